// GET /: README.md as HTML, {FQDN} filled in. No hash needed, and none is ever shown.
import type { Handler } from '../requestContext.js';
import { HttpError } from '../httpError.js';
import { sendHtml } from '../respond.js';
import { fillPlaceholders, markdownToHtml, page, pageCsp } from '../../answers/html.js';

export const index: Handler = async ({ req, res, deps }) => {
  const markdown = deps.readme();
  if (markdown === undefined) throw new HttpError(404, 'README.md is missing from this installation', 'reinstall LLMASS with its README.md beside dist/');
  const html = markdownToHtml(fillPlaceholders(markdown, { FQDN: deps.site.fqdn }));
  sendHtml(req, res, 200, page('LLMASS', html), pageCsp());
};
