// GET /cancel: a queued ticket never starts; a running one has its process group stopped
// (TERM, then KILL). Repeating it is harmless: a finished ticket is left as it is, and said so.
import type { Answer, AnswerContext, Handler } from '../requestContext.js';
import { sendJson } from '../respond.js';
import type { Query } from '../query.js';
import type { TicketView } from '../../protocol/types.js';
import { ticketView } from '../../answers/ticketViews.js';
import { textTranscript } from '../../answers/transcripts.js';
import { StorageUnavailable } from '../../scheduling/unavailable.js';
import { noStorage } from '../domainErrors.js';
import { outputPlan, requireTicketRecord, requireTicketParams } from './lookups.js';

export const cancel: Handler = async (ctx) => {
  sendJson(ctx.req, ctx.res, 200, (await cancelAnswer(ctx, ctx.query)).json);
};

export async function cancelAnswer(ctx: AnswerContext, query: Query): Promise<Answer<TicketView & { canceled: boolean; background_ended?: number }>> {
  const { deps } = ctx;
  const { session, ticket } = await requireTicketParams(ctx, query);
  const plan = outputPlan(deps);
  await requireTicketRecord(deps, session, ticket, plan);
  let result;
  try {
    result = (await deps.scheduler.cancel(session, ticket)) ?? ({ kind: 'already-ended', backgroundEnded: 0 } as const);
  } catch (error) {
    if (error instanceof StorageUnavailable) throw noStorage(error, 'the ticket was not canceled: it is still queued');
    throw error;
  }
  const view = ticketView(ctx.view, await requireTicketRecord(deps, session, ticket, plan));
  const said =
    result === 'canceled'
      ? `Canceled ticket ${ticket}.`
      : result === 'storing'
        ? `Ticket ${ticket}'s command had already ended before this cancel; its result is still being stored.`
        : result.backgroundEnded > 0
          ? `Ticket ${ticket} had already ended (${view.status}); this cancel ended the ${result.backgroundEnded} process(es) it left running. Its status is unchanged.`
          : `Ticket ${ticket} had already ended (${view.status}) before this cancel; nothing was changed.`;
  const ended = typeof result === 'object' && result.backgroundEnded > 0 ? { background_ended: result.backgroundEnded } : {};
  const json = { ...view, ...ended, canceled: result === 'canceled', next: `${said} ${view.next}` };
  return { json, text: (shown = json) => textTranscript(shown) };
}
