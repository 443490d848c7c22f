// What /file and /upload share: a file transfer goes behind the session's commands (it waits
// for them, up to MAX_WAIT), and it is written to the audit log once it has happened.
import { HttpError } from '../httpError.js';
import type { AnswerContext } from '../requestContext.js';
import { requireKnownSession, requireOwnSession } from './lookups.js';

/** Waits until nothing runs or waits in `session`; a 409 when that takes longer than MAX_WAIT. */
export async function behindSessionCommands(ctx: AnswerContext, session: string): Promise<void> {
  await requireOwnSession(ctx, session);
  await requireKnownSession(ctx.deps, session);
  const waitMs = (ctx.maxWait ?? ctx.deps.config.maxWait) * 1000;
  if (await ctx.deps.scheduler.whenIdle(session, waitMs, ctx.signal)) return;
  throw new HttpError(409, `session ${session} is still running a command`, 'file transfers wait behind the session\'s commands: try again once it has finished (GET its poll URL), or cancel it');
}

/** The audit line of a transfer that happened. */
export function auditTransfer(ctx: AnswerContext, event: 'file_read' | 'file_written', session: string, path: string, bytes: number, sha256: string): void {
  ctx.deps.audit.record({ event, client: ctx.client, key: ctx.principal?.key ?? 'HASH', session, path, bytes, sha256 });
}
