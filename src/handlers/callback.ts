// GET /callback: the ticket view. `wait=N` long-polls until the ticket finishes; offset/limit
// page through the stored output; format=text gives a transcript for text-only tools.
import type { Handler } from '../deps.js';
import { sendJson, sendText } from '../http.js';
import { optionalFormat, optionalSeconds, optionalWindow, requireSession, requireTicket } from '../params.js';
import { isFinal } from '../protocol.js';
import { textTranscript, ticketView } from '../views.js';
import { outputPlan, requireTicketRecord } from './common.js';

export const callback: Handler = async (ctx) => {
  const { req, res, query, deps } = ctx;
  const session = requireSession(query);
  ctx.log.session = session;
  const ticket = requireTicket(query);
  ctx.log.ticket = ticket;
  const wait = optionalSeconds(query, 'wait', deps.config.maxWait) ?? 0;
  const window = optionalWindow(query, deps.config.outputViewBytes, deps.config.maxOutputBytes * 2);
  const format = optionalFormat(query, ['json', 'text'] as const);
  const plan = outputPlan(deps, window);

  let found = await requireTicketRecord(deps, session, ticket, plan);
  if (wait > 0 && !isFinal(found.meta.status)) {
    await deps.scheduler.waitFor(session, ticket, wait * 1000, ctx.signal);
    found = await requireTicketRecord(deps, session, ticket, plan);
  }
  const view = ticketView(deps.view, found, {
    window,
    queuePosition: deps.scheduler.positionInQueue(session, ticket),
  });
  if (format === 'text') sendText(req, res, 200, textTranscript(view, true));
  else sendJson(req, res, 200, view);
};
