// GET /history: a session's ticket views in ascending ticket order (JSON array), or with
// format=text the whole session as a terminal transcript. `after=N` keeps tickets above N.
// Both stream batch by batch: each ticket shows at most OUTPUT_VIEW_BYTES of output, and a
// damaged record is an entry saying so, never the end of the answer.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Answer, AnswerContext, AppDeps, Handler } from '../requestContext.js';
import { HttpError } from '../httpError.js';
import { sendJsonArray, sendTextStream } from '../respond.js';
import type { Query } from '../query.js';
import { optionalFormat, requireSession } from '../params.js';
import type { DamagedEntry, TicketView } from '../../protocol/types.js';
import { damagedEntry, historyEntry } from '../../answers/ticketViews.js';
import { damagedTranscript, textTranscript } from '../../answers/transcripts.js';
import { statusText } from '../../answers/statusLine.js';
import type { ViewContext } from '../../answers/viewContext.js';
import { outputPlan, requireKnownSession, requireOwnSession, ticketsOf } from './lookups.js';

/** Records read per turn of the event loop: a few milliseconds of work, so other requests wait little. */
const READ_BATCH = 64;

/** The session and ticket numbers a history request asks for, checked. */
async function historyRequest(ctx: AnswerContext, query: Query): Promise<{ session: string; numbers: number[] }> {
  const session = requireSession(query);
  ctx.log.session = session;
  optionalFormat(query, ['json', 'text'] as const);
  const afterRaw = query.get('after');
  if (afterRaw !== undefined && !/^\d{1,15}$/.test(afterRaw)) {
    throw new HttpError(400, 'after must be a ticket number', 'after=N lists only the tickets numbered above N; leave it out for all');
  }
  const after = afterRaw === undefined ? 0 : Number(afterRaw);
  await requireOwnSession(ctx, session);
  await requireKnownSession(ctx.deps, session);
  return { session, numbers: (await ctx.deps.store.ticketNumbers(session)).filter((n) => n > after) };
}

/** The first line of a text history: the last ticket's status (first lines survive summaries). */
async function historyFirstLine(ctx: AnswerContext, session: string, numbers: readonly number[]): Promise<string> {
  const last = numbers.at(-1);
  let lastLine = 'no tickets yet';
  if (last !== undefined) {
    const lastFound = await ctx.deps.scheduler.get(session, last, outputPlan(ctx.deps)).catch(() => 'damaged' as const);
    if (lastFound === 'damaged' || lastFound === undefined) lastLine = `last: ticket ${last}, whose record is damaged or gone`;
    else lastLine = `last: ${statusText(historyEntry(ctx.view, lastFound))}`;
  }
  return `[session ${session} · ${numbers.length} ticket(s) · ${lastLine}]\n\n`;
}

export const history: Handler = async (ctx) => {
  const { req, res, query } = ctx;
  const { session, numbers } = await historyRequest(ctx, query);
  const batches = historyBatches(ctx.deps, ctx.view, session, numbers);
  if (optionalFormat(query, ['json', 'text'] as const) === 'text') {
    await sendTextStream(req, res, textBatches(await historyFirstLine(ctx, session, numbers), batches));
    return;
  }
  await sendJsonArray(req, res, batches);
};

/** The whole history as one answer (for MCP, where a result is one message). */
export async function historyAnswer(ctx: AnswerContext, query: Query): Promise<Answer<Array<TicketView | DamagedEntry>>> {
  const { session, numbers } = await historyRequest(ctx, query);
  const entries: Array<TicketView | DamagedEntry> = [];
  for await (const batch of historyBatches(ctx.deps, ctx.view, session, numbers)) entries.push(...batch);
  const firstLine = await historyFirstLine(ctx, session, numbers);
  return { json: entries, text: (shown = entries) => firstLine + shown.map(entryTranscript).join('\n') };
}

function entryTranscript(entry: TicketView | DamagedEntry): string {
  return entry.type === 'damaged' ? damagedTranscript(entry) : textTranscript(entry);
}

/** The first line states the last ticket's status: fetch tools that summarise keep first lines. */
async function* textBatches(firstLine: string, batches: AsyncIterable<Array<TicketView | DamagedEntry>>): AsyncGenerator<string> {
  yield firstLine;
  let first = true;
  for await (const batch of batches) {
    const parts = batch.map(entryTranscript);
    if (parts.length === 0) continue;
    yield (first ? '' : '\n') + parts.join('\n');
    first = false;
  }
}

/** The tickets' entries, READ_BATCH at a time, yielding to other requests between batches. */
export async function* historyBatches(deps: AppDeps, view: ViewContext, session: string, numbers: readonly number[]): AsyncGenerator<Array<TicketView | DamagedEntry>> {
  const plan = outputPlan(deps);
  for (let i = 0; i < numbers.length; i += READ_BATCH) {
    const entries: Array<TicketView | DamagedEntry> = [];
    for await (const item of ticketsOf(deps, session, numbers.slice(i, i + READ_BATCH), plan)) {
      entries.push(item.kind === 'ticket' ? historyEntry(view, item.found) : damagedEntry(session, item.ticket, item.problem));
    }
    yield entries;
    // Small records are read synchronously: let other requests in between batches.
    await nextTurn();
  }
}
