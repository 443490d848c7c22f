// Lookups that several handlers share, each answering 404 with a hint when nothing is found.
import type { AppDeps } from '../deps.js';
import { HttpError } from '../http.js';
import type { StoredOutput } from '../output.js';
import type { TicketRecord } from '../protocol.js';

export async function requireKnownSession(deps: AppDeps, session: string): Promise<void> {
  if (!(await deps.store.exists(session))) {
    throw new HttpError(404, `session ${session} does not exist`, 'check the name in your /shell answer; GET /sessions lists the sessions; a /shell request without session= starts a new one');
  }
}

export async function requireTicketRecord(
  deps: AppDeps,
  session: string,
  ticket: number,
): Promise<{ record: TicketRecord; live?: StoredOutput }> {
  const found = await deps.scheduler.get(session, ticket);
  if (found !== undefined) return found;
  await requireKnownSession(deps, session);
  const numbers = await deps.store.ticketNumbers(session);
  const range = numbers.length === 0 ? 'it has no tickets yet' : `its tickets are ${numbers[0]} to ${numbers.at(-1)}`;
  throw new HttpError(404, `ticket ${ticket} does not exist in session ${session}`, `${range}; use the ticket number from your /shell answer`);
}
