// GET /callback: the ticket view. `wait=N` long-polls until the ticket finishes; offset/limit
// page through the stored output (a window beyond it is a 416); format=text gives a transcript
// for text-only tools. `cursor` is only there to make each URL handed out new.
import type { Answer, AnswerContext, Handler, RequestContext } from '../deps.js';
import { HttpError, sendJsonText, sendText, type Query } from '../http.js';
import { optionalFormat, optionalWait, optionalWindow, requireSession, requireTicket, waitNotice } from '../params.js';
import { isFinal, type TicketView } from '../protocol.js';
import { textTranscript, ticketView } from '../views.js';
import { outputPlan, requireTicketRecord } from './common.js';

export const callback: Handler = async (ctx) => {
  const { req, res, query } = ctx;
  const cacheKey = answerCacheKey(ctx, query);
  const cached = cacheKey === undefined ? undefined : ctx.deps.answers.get(cacheKey);
  if (cached !== undefined) {
    ctx.log.session = query.get('session');
    sendJsonText(req, res, 200, cached);
    return;
  }
  const answer = await callbackAnswer(ctx, query);
  if (optionalFormat(query, ['json', 'text'] as const) === 'text') {
    sendText(req, res, 200, answer.text());
    return;
  }
  const body = JSON.stringify(answer.json) + '\n';
  // Finished and with nothing left running in the background: the answer cannot change.
  if (cacheKey !== undefined && answer.json.type === 'result' && answer.json.background === undefined) ctx.deps.answers.set(cacheKey, body);
  sendJsonText(req, res, 200, body);
};

/** Parameters with which a finished ticket's answer is the same every time (for one asker). */
const CACHEABLE = new Set(['session', 'ticket', 'hash', 'token', 'cursor', 'wait']);

/**
 * The key of this request's answer in the cache of finished answers, or undefined when its
 * answer depends on more than the ticket and the asker (a window, text, a wait to shorten).
 */
function answerCacheKey(ctx: RequestContext, query: Query): string | undefined {
  const principal = ctx.principal;
  if (principal === undefined) return undefined;
  for (const name of query.keys()) if (!CACHEABLE.has(name)) return undefined;
  const wait = query.get('wait');
  if (wait !== undefined && !(/^\d{1,15}$/.test(wait) && Number(wait) <= ctx.deps.config.maxWait)) return undefined;
  const access = principal.kind === 'token' ? principal.access : 'exec';
  return `${query.get('session') ?? ''}/${query.get('ticket') ?? ''}/${principal.key}/${access}`;
}

export async function callbackAnswer(ctx: AnswerContext, query: Query): Promise<Answer<TicketView>> {
  const { deps } = ctx;
  const session = requireSession(query);
  ctx.log.session = session;
  const ticket = requireTicket(query);
  ctx.log.ticket = ticket;
  const wait = optionalWait(query, ctx.maxWait ?? deps.config.maxWait);
  const window = optionalWindow(query, deps.config.outputViewBytes, deps.config.maxOutputBytes * 2);
  optionalFormat(query, ['json', 'text'] as const);
  const cursor = query.get('cursor');
  if (cursor !== undefined && !/^[0-9a-z]{1,24}$/.test(cursor)) {
    throw new HttpError(400, 'cursor is not one this server hands out', 'use the poll, callback or next_page URL as given, or leave cursor out');
  }
  const plan = outputPlan(deps, window);

  let found = await requireTicketRecord(deps, session, ticket, plan);
  if (wait.seconds > 0 && !isFinal(found.meta.status)) {
    await deps.scheduler.waitFor(session, ticket, wait.seconds * 1000, ctx.signal);
    found = await requireTicketRecord(deps, session, ticket, plan);
  }
  const stored = found.output.storedBytes;
  if (window !== undefined && window.offset > 0 && window.offset >= stored) {
    throw new HttpError(416, `offset ${window.offset} is beyond the stored output (${stored} bytes)`, stored === 0 ? 'this ticket has stored no output; leave offset out' : `choose an offset from 0 to ${stored - 1}; bytes the command wrote beyond MAX_OUTPUT_BYTES were not stored (see output_dropped_bytes)`, {
      'Content-Range': `bytes */${stored}`,
    });
  }
  const view = ticketView(ctx.view, found, {
    window,
    queuePosition: deps.scheduler.positionInQueue(session, ticket),
    notice: waitNotice(wait),
  });
  return { json: view, text: () => textTranscript(view) };
}
