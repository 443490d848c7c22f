// GET /callback: the ticket view. `wait=N` long-polls until the ticket finishes; offset/limit
// page through the stored output (a window beyond it is a 416); format=text gives a transcript
// for text-only tools. `cursor` is only there to make each URL handed out new.
import type { Answer, AnswerContext, Handler, RequestContext } from '../requestContext.js';
import { HttpError } from '../httpError.js';
import { sendJsonText, sendText } from '../respond.js';
import type { Query } from '../query.js';
import { optionalFormat, optionalFullInput, optionalWait, optionalWhole, optionalWindow, waitNotice } from '../params.js';
import { isFinal, type TicketView } from '../../protocol/types.js';
import { CURSOR_CHARS } from '../../protocol/endpoints.js';
import { ticketView } from '../../answers/ticketViews.js';
import { textTranscript } from '../../answers/transcripts.js';
import { keptAnswer } from '../keptAnswers.js';
import { requestLogHead, requestLogTail, safePath } from '../../logging/requestLine.js';
import { outputPlan, requireTicketRecord, requireTicketParams } from './lookups.js';

const CURSOR = new RegExp(`^${CURSOR_CHARS}$`);

export const callback: Handler = async (ctx) => {
  const { req, res, query } = ctx;
  const answer = await callbackAnswer(ctx, query);
  if (optionalFormat(query, ['json', 'text'] as const) === 'text') {
    sendText(req, res, 200, answer.text());
    return;
  }
  const body = JSON.stringify(answer.json) + '\n';
  // Finished and with nothing left running in the background: the answer cannot change.
  if (answer.json.type === 'result' && answer.json.background === undefined) keepAnswer(ctx, body);
  sendJsonText(req, res, 200, body);
};

/** Parameters with which a finished ticket's answer is the same every time (for one asker). */
const CACHEABLE = new Set(['session', 'ticket', 'hash', 'token', 'cursor', 'wait']);

/**
 * Keeps a finished ticket's answer in the answer cache, for the same request to be answered
 * from it. Not when the answer depends on more than the ticket and the asker (a window, text, a
 * wait to shorten with a notice), nor when its log line would hold a secret.
 */
function keepAnswer(ctx: RequestContext, body: string): void {
  const { answerKey, principal, query, req, deps } = ctx;
  if (answerKey === undefined || principal === undefined || req.method !== 'GET') return;
  for (const name of query.keys()) if (!CACHEABLE.has(name)) return;
  const wait = query.get('wait');
  if (wait !== undefined && !(/^\d{1,15}$/.test(wait) && Number(wait) <= deps.config.maxWait)) return;
  const logHead = requestLogHead(req.method, safePath(req.url), 200);
  const logTail = requestLogTail(ctx.log);
  if (deps.redactor.mayHold(logHead + logTail)) return;
  deps.answers.set(answerKey, keptAnswer(body, 'application/json; charset=utf-8', logHead, logTail), principal.kind === 'token' ? principal.expires * 1000 : Infinity);
}

export async function callbackAnswer(ctx: AnswerContext, query: Query): Promise<Answer<TicketView>> {
  const { deps } = ctx;
  const { session, ticket } = await requireTicketParams(ctx, query);
  const wait = optionalWait(query, ctx.maxWait ?? deps.config.maxWait);
  const window = optionalWindow(query, deps.config.outputViewBytes, deps.config.maxOutputBytes * 2);
  optionalFormat(query, ['json', 'text'] as const);
  const cursor = query.get('cursor');
  if (cursor !== undefined && !CURSOR.test(cursor)) {
    throw new HttpError(400, 'cursor is not one this server hands out', 'use the poll, callback or next_page URL as given, or leave cursor out');
  }
  const plan = outputPlan(deps, window);
  const fullInput = optionalFullInput(query);
  // since=B: answer as soon as the output grows past B bytes (a watcher following new output).
  const since = optionalWhole(query, 'since', 'since is a byte count: the output_bytes of the last answer');

  let found = await requireTicketRecord(deps, session, ticket, plan);
  if (wait.seconds > 0 && !isFinal(found.meta.status)) {
    if (since === undefined) await deps.scheduler.waitFor(session, ticket, wait.seconds * 1000, ctx.signal);
    else if (found.outputBytes <= since) await deps.scheduler.terminals.waitBeyond(session, ticket, since, wait.seconds * 1000, ctx.signal);
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
    queue: deps.scheduler.standing(session, ticket),
    fullInput,
    notice: waitNotice(wait),
  });
  return { json: view, text: (shown = view) => textTranscript(shown) };
}
