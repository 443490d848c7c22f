// GET /cancel: a queued ticket never starts; a running one has its process group stopped
// (TERM, then KILL). Repeating it is harmless: a finished ticket is left as it is, and said so.
import type { Handler } from '../deps.js';
import { HttpError, sendJson } from '../http.js';
import { requireSession, requireTicket } from '../params.js';
import { ticketView } from '../views.js';
import { requireTicketRecord } from './common.js';

export const cancel: Handler = async (ctx) => {
  const { req, res, query, deps } = ctx;
  const session = requireSession(query);
  ctx.log.session = session;
  const ticket = requireTicket(query);
  ctx.log.ticket = ticket;
  await requireTicketRecord(deps, session, ticket);
  const result = await deps.scheduler.cancel(session, ticket);
  if (result === undefined) throw new HttpError(404, `ticket ${ticket} does not exist in session ${session}`, 'use the ticket number from your /shell answer');
  const view = ticketView(deps.view, result.record, undefined);
  const said = result.changed
    ? `Canceled ticket ${ticket}.`
    : `Ticket ${ticket} had already ended (${result.record.status}) before this cancel; nothing was changed.`;
  sendJson(req, res, 200, { ...view, canceled: result.changed, next: `${said} ${view.next}` });
};
