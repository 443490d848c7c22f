// GET /shell: submit a command. Answers at once with the ticket (on disk before the answer
// leaves), or with `wait=N` holds the answer until the command finishes or N seconds pass.
import type { Handler } from '../deps.js';
import { HttpError, sendJson } from '../http.js';
import { optionalLimit, optionalNonce, optionalSeconds, optionalSession, requireCommand } from '../params.js';
import { isFinal } from '../protocol.js';
import { SchedulerUnavailable, StorageUnavailable } from '../scheduler.js';
import { submissionView, ticketView } from '../views.js';
import { noStorage, outputPlan, requireTicketRecord } from './common.js';

function unavailable(error: SchedulerUnavailable, maxQueue: number): HttpError {
  const hint =
    error.reason === 'queue-full'
      ? `${maxQueue} tickets are already waiting; try again in ${error.retryAfterSeconds} s, or cancel tickets you no longer need`
      : `the server is restarting; try again in ${error.retryAfterSeconds} s`;
  return new HttpError(503, error.message, hint, { 'Retry-After': String(error.retryAfterSeconds) });
}

export const shell: Handler = async (ctx) => {
  const { req, res, query, deps } = ctx;
  const { config, scheduler } = deps;
  const session = optionalSession(query);
  ctx.log.session = session;
  const input = requireCommand(query);
  const timeout = optionalLimit(query, 'timeout', config.commandTimeout) ?? config.commandTimeout;
  const idleTimeout = optionalLimit(query, 'idle_timeout', config.commandTimeout) ?? null;
  const nonce = optionalNonce(query);
  const wait = optionalSeconds(query, 'wait', config.maxWait) ?? 0;

  let submitted;
  try {
    submitted = await scheduler.submit(session, { input, timeout, idle_timeout: idleTimeout, nonce }, ctx.client);
  } catch (error) {
    if (error instanceof SchedulerUnavailable) throw unavailable(error, config.maxQueue);
    if (error instanceof StorageUnavailable) throw noStorage(error, 'no ticket was made and nothing ran');
    throw error;
  }
  ctx.log.session = submitted.session;
  ctx.log.ticket = submitted.ticket;

  if (wait > 0) await scheduler.waitFor(submitted.session, submitted.ticket, wait * 1000, ctx.signal);
  const current = await requireTicketRecord(deps, submitted.session, submitted.ticket, outputPlan(deps));
  if (wait > 0 && isFinal(current.meta.status)) {
    sendJson(req, res, 200, { ...ticketView(deps.view, current), cached: submitted.cached });
    return;
  }
  sendJson(req, res, 200, submissionView(deps.view, current.meta, submitted.cached));
};
