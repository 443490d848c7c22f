// GET /openapi.json: the OpenAPI 3.1 document, for GPT Actions and OpenAPI toolkits. No key.
import fs from 'node:fs';
import type { Handler } from '../requestContext.js';
import { sendJson } from '../respond.js';
import { openApiDocument } from '../../protocol/openapi.js';

export const VERSION = (JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export const openapi: Handler = async ({ req, res, deps }) => {
  sendJson(req, res, 200, openApiDocument(deps.site.fqdn, VERSION));
};
