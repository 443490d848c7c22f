// GET /: README.md as HTML, {FQDN} filled in and the examples' default address made this
// server's. No hash needed, and none is ever shown. Also /favicon.ico: nothing, without a 404.
import type { Handler } from '../requestContext.js';
import { HttpError } from '../httpError.js';
import { sendHtml } from '../respond.js';
import { fillPlaceholders, markdownToHtml, page, pageCsp } from '../../answers/html.js';

export const index: Handler = async ({ req, res, deps }) => {
  const markdown = deps.readme();
  if (markdown === undefined) throw new HttpError(404, 'README.md is missing from this installation', 'reinstall LLMASS with its README.md beside dist/');
  // The README's examples name the default address; the page shows this server's.
  const html = markdownToHtml(fillPlaceholders(markdown, { FQDN: deps.site.fqdn }).replaceAll('http://localhost:8083', deps.site.fqdn));
  sendHtml(req, res, 200, page('LLMASS', html), pageCsp());
};

/** Browsers ask every page's site for one: an empty answer, not a 404 in every tab. */
export const favicon: Handler = async ({ res }) => {
  res.writeHead(204, { 'Cache-Control': 'max-age=86400' });
  res.end();
};
