// Lookups that several handlers share, each answering 404 with a hint when nothing is found,
// and 422 naming the problem when a ticket's record on disk is damaged; and the one check of
// whose a session is (another key's session is not there for it).
import type { AnswerContext, AppDeps } from '../requestContext.js';
import { requireSession, requireTicket } from '../params.js';
import type { Query } from '../query.js';
import { HttpError } from '../httpError.js';
import type { OutputPlan, OutputWindow } from '../../protocol/outputParts.js';
import { DamagedRecord } from '../../storage/recordFields.js';
import { damagedError } from '../domainErrors.js';
import type { TicketState } from '../../protocol/ticketState.js';
import { OPERATOR_KEY } from '../../auth/keys.js';

/**
 * Refuses a session the asker may not see: another key's is a 404, as if it did not exist
 * (HASH, and its tokens, see every session). A session that does not exist passes: the caller
 * says so in its own words, or (/shell) makes it. `making`: the asker wants to run in it, so
 * the 404 says the name is taken.
 */
export async function requireOwnSession(ctx: Pick<AnswerContext, 'deps' | 'principal'>, session: string, making = false): Promise<void> {
  const asker = ctx.principal?.key;
  if (asker === undefined || asker === OPERATOR_KEY) return;
  // A session whose owner is known needs no look at the disk (every poll of an agent comes here).
  const owner = ctx.deps.owners.known(session) ?? ((await ctx.deps.store.exists(session)) ? await ctx.deps.owners.ownerOf(session) : undefined);
  if (owner === undefined || owner.key === asker) return;
  if (making) throw new HttpError(404, `the session name ${session} is taken`, 'choose another name for session=, or leave session= out and a new session is made for you; GET /sessions lists yours');
  throw new HttpError(404, `session ${session} does not exist`, NO_SUCH_SESSION_HINT);
}

/** Whether the asker may see `session` (the /sessions list). */
export async function maySee(deps: AppDeps, asker: string | undefined, session: string): Promise<boolean> {
  return asker === undefined || asker === OPERATOR_KEY || (await deps.owners.ownerOf(session)).key === asker;
}

/** The session a request names, checked, if the asker may see it. */
export async function requireOwnSessionParam(ctx: AnswerContext, query: Query): Promise<string> {
  const session = requireSession(query);
  ctx.log.session = session;
  await requireOwnSession(ctx, session);
  return session;
}

const NO_SUCH_SESSION_HINT = 'check the name in your /shell answer; GET /sessions lists the sessions; a /shell request without session= starts a new one';

export async function requireKnownSession(deps: AppDeps, session: string): Promise<void> {
  if (!(await deps.store.exists(session))) {
    throw new HttpError(404, `session ${session} does not exist`, NO_SUCH_SESSION_HINT);
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

/** The session and ticket a request names, checked (the session the asker's), and noted on its log line. */
export async function requireTicketParams(ctx: AnswerContext, query: Query): Promise<{ session: string; ticket: number }> {
  const session = requireSession(query);
  ctx.log.session = session;
  const ticket = requireTicket(query);
  ctx.log.ticket = ticket;
  await requireOwnSession(ctx, session);
  return { session, ticket };
}
