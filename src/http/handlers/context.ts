// GET /context: CONTEXT.md, the page an operator hands to the agent, with {FQDN}, {HASH} and the
// running limits filled in so its examples work as printed and its limits are this server's.
// Only answered to a request that carried the hash.
import type { Handler } from '../requestContext.js';
import { HttpError } from '../httpError.js';
import { sendHtml, sendText } from '../respond.js';
import { optionalFormat } from '../params.js';
import { fillPlaceholders, markdownToHtml, page, pageCsp } from '../../answers/html.js';

export const context: Handler = async (ctx) => {
  const { req, res, query, deps } = ctx;
  const format = optionalFormat(query, ['md', 'html'] as const);
  const markdown = deps.contextDoc();
  if (markdown === undefined) throw new HttpError(404, 'CONTEXT.md is missing from this installation', 'reinstall LLMASS with its CONTEXT.md beside dist/');
  // The examples carry the key that fetched the page: it is the agent's own.
  const { config } = deps;
  // The limits are the running configuration's, so that the page never states another server's.
  const filled = fillPlaceholders(markdown, {
    FQDN: deps.site.fqdn,
    HASH: ctx.presentedKey ?? '<your key>',
    MAX_WAIT: String(config.maxWait),
    OUTPUT_VIEW_BYTES: String(config.outputViewBytes),
    MAX_OUTPUT_BYTES: String(config.maxOutputBytes),
    MAX_CONCURRENCY: String(config.maxConcurrency),
    MAX_QUEUE: String(config.maxQueue),
    COMMAND_TIMEOUT: String(config.commandTimeout),
    DEDUP_WINDOW: String(config.dedupWindow),
  });
  if (format === 'md') {
    sendText(req, res, 200, filled, {}, 'text/markdown; charset=utf-8');
    return;
  }
  sendHtml(req, res, 200, page('LLMASS: how to use this shell', markdownToHtml(filled)), pageCsp());
};
