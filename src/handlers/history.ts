// GET /history: a session's ticket views in ascending ticket order (JSON array), or with
// format=text the whole session as a terminal transcript. `after=N` keeps tickets above N.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { AppDeps, Handler } from '../deps.js';
import { HttpError, sendJsonArray, sendText } from '../http.js';
import { optionalFormat, requireSession } from '../params.js';
import type { TicketView } from '../protocol.js';
import { textTranscript, ticketView } from '../views.js';
import { requireKnownSession } from './common.js';

/** Records read per turn of the event loop: a few milliseconds of work, so other requests wait little. */
const READ_BATCH = 64;

export const history: Handler = async (ctx) => {
  const { req, res, query, deps } = ctx;
  const session = requireSession(query);
  ctx.log.session = session;
  const format = optionalFormat(query, ['json', 'text'] as const);
  const afterRaw = query.get('after');
  if (afterRaw !== undefined && !/^\d{1,15}$/.test(afterRaw)) {
    throw new HttpError(400, 'after must be a ticket number', 'after=N lists only the tickets numbered above N; leave it out for all');
  }
  const after = afterRaw === undefined ? 0 : Number(afterRaw);
  await requireKnownSession(deps, session);

  const numbers = (await deps.store.ticketNumbers(session)).filter((n) => n > after);
  const batches = viewBatches(deps, session, numbers);
  if (format === 'text') {
    const views: TicketView[] = [];
    for await (const batch of batches) views.push(...batch);
    const header = `# session ${session}: ${views.length} ticket(s)\n\n`;
    sendText(req, res, 200, header + views.map((view) => textTranscript(view, false)).join('\n'));
    return;
  }
  await sendJsonArray(req, res, batches);
};

/** The tickets' views, READ_BATCH at a time; a ticket gone from disk meanwhile is left out. */
async function* viewBatches(deps: AppDeps, session: string, numbers: readonly number[]): AsyncGenerator<TicketView[]> {
  for (let i = 0; i < numbers.length; i += READ_BATCH) {
    const batch = numbers.slice(i, i + READ_BATCH);
    const found = await Promise.all(batch.map((n) => deps.scheduler.get(session, n)));
    const views: TicketView[] = [];
    for (const item of found) {
      if (item !== undefined) views.push(ticketView(deps.view, item.record, item.live));
    }
    yield views;
    // Small records are read synchronously: let other requests in between batches.
    await nextTurn();
  }
}
