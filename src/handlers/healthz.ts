// GET /healthz: for Caddy and service managers. No hash, and nothing about the sessions.
import type { Handler } from '../deps.js';
import { sendJson } from '../http.js';

export const healthz: Handler = async ({ req, res }) => {
  sendJson(req, res, 200, { ok: true });
};
