// Lookups that several handlers share, each answering 404 with a hint when nothing is found,
// and 422 naming the problem when a ticket's record on disk is damaged.
import type { AnswerContext, AppDeps } from '../requestContext.js';
import { requireSession, requireTicket } from '../params.js';
import type { Query } from '../query.js';
import { HttpError } from '../httpError.js';
import type { OutputPlan, OutputWindow } from '../../protocol/outputParts.js';
import { DamagedRecord } from '../../storage/recordFields.js';
import { damagedError } from '../domainErrors.js';
import type { TicketState } from '../../protocol/ticketState.js';

export async function requireKnownSession(deps: AppDeps, session: string): Promise<void> {
  if (!(await deps.store.exists(session))) {
    throw new HttpError(404, `session ${session} does not exist`, 'check the name in your /shell answer; GET /sessions lists the sessions; a /shell request without session= starts a new one');
  }
}

/** What part of a ticket's output an answer shows: a window, or the default view. */
export function outputPlan(deps: AppDeps, window?: OutputWindow): OutputPlan {
  return window === undefined ? { kind: 'view', viewBytes: deps.config.outputViewBytes } : { kind: 'window', ...window };
}

/** The ticket as it stands; a 404 when there is none, a 422 when its record is damaged. */
export async function requireTicketRecord(deps: AppDeps, session: string, ticket: number, plan: OutputPlan): Promise<TicketState> {
  let found: TicketState | undefined;
  try {
    found = await deps.scheduler.get(session, ticket, plan);
  } catch (error) {
    if (error instanceof DamagedRecord) throw damagedError(session, ticket, error.message);
    throw error;
  }
  if (found !== undefined) return found;
  await requireKnownSession(deps, session);
  const numbers = await deps.store.ticketNumbers(session);
  const range = numbers.length === 0 ? 'it has no tickets yet' : `its tickets are ${numbers[0]} to ${numbers.at(-1)}`;
  throw new HttpError(404, `ticket ${ticket} does not exist in session ${session}`, `${range}; use the ticket number from your /shell answer`);
}

export type SessionItem = { readonly kind: 'ticket'; readonly found: TicketState } | { readonly kind: 'damaged'; readonly ticket: number; readonly problem: string };

/**
 * Each ticket of `numbers` as it stands, or the problem of its damaged record. One at a time:
 * memory holds one record's shown part, however large the records are.
 */
export async function* ticketsOf(deps: AppDeps, session: string, numbers: readonly number[], plan: OutputPlan): AsyncGenerator<SessionItem> {
  for (const ticket of numbers) {
    let found: TicketState | undefined;
    try {
      found = await deps.scheduler.get(session, ticket, plan);
    } catch (error) {
      if (!(error instanceof DamagedRecord)) throw error;
      yield { kind: 'damaged', ticket, problem: error.message };
      continue;
    }
    // A ticket gone from disk meanwhile (a pruned session) is left out.
    if (found !== undefined) yield { kind: 'ticket', found };
  }
}

/** The session and ticket a request names, checked, and noted on its log line. */
export function requireTicketParams(ctx: AnswerContext, query: Query): { session: string; ticket: number } {
  const session = requireSession(query);
  ctx.log.session = session;
  const ticket = requireTicket(query);
  ctx.log.ticket = ticket;
  return { session, ticket };
}
