// GET /shell: submit a command. Answers at once with the ticket (on disk before the answer
// leaves), or with `wait=N` holds the answer until the command finishes or N seconds pass.
// An identical repeat of the session's latest submission is answered as a replay (replays.ts).
import type { Answer, AnswerContext, Handler } from '../requestContext.js';
import { sendJson, sendText } from '../respond.js';
import type { Query } from '../query.js';
import { optionalFormat, optionalLimit, optionalNonce, optionalTerminal, optionalSession, optionalWait, joinNotices, plusNotice, requireCommand, submissionIdentity, waitNotice } from '../params.js';
import { isFinal, type Submission, type TicketView } from '../../protocol/types.js';
import { StorageUnavailable } from '../../scheduling/unavailable.js';
import { noStorage } from '../domainErrors.js';
import { submissionView, ticketView } from '../../answers/ticketViews.js';
import { submissionText, textTranscript } from '../../answers/transcripts.js';
import { outputPlan, requireOwnSession, requireTicketRecord } from './lookups.js';
import { OPERATOR_KEY } from '../../auth/keys.js';

export const shell: Handler = async (ctx) => {
  const answer = await shellAnswer(ctx, ctx.query, plusNotice(ctx.req.url));
  if (optionalFormat(ctx.query, ['json', 'text'] as const) === 'text') sendText(ctx.req, ctx.res, 200, answer.text());
  else sendJson(ctx.req, ctx.res, 200, answer.json);
};

/** `notice`: what the front noticed about the request itself (a + read as a space). */
export async function shellAnswer(ctx: AnswerContext, query: Query, frontNotice?: string): Promise<Answer<(TicketView & { cached: boolean }) | Submission>> {
  const { deps } = ctx;
  const { config, scheduler } = deps;
  const session = optionalSession(query);
  ctx.log.session = session;
  const input = requireCommand(query);
  const timeout = optionalLimit(query, 'timeout', config.commandTimeout) ?? config.commandTimeout;
  const idleTimeout = optionalLimit(query, 'idle_timeout', config.commandTimeout) ?? null;
  const nonce = optionalNonce(query);
  const tty = optionalTerminal(query);
  const wait = optionalWait(query, ctx.maxWait ?? config.maxWait);
  optionalFormat(query, ['json', 'text'] as const);

  if (session !== undefined) await requireOwnSession(ctx, session, true);
  const key = ctx.principal?.key ?? OPERATOR_KEY;
  const options = deps.keyring.optionsOf(key);
  const asker = { key, operator: key === OPERATOR_KEY, user: options?.user ?? null, approve: options?.approve ?? false };
  let submitted;
  try {
    submitted = await scheduler.submit(session, { input, tty, timeout, idle_timeout: idleTimeout, nonce }, submissionIdentity(query), ctx.client, asker);
  } catch (error) {
    if (error instanceof StorageUnavailable) throw noStorage(error, 'no ticket was made and nothing ran');
    throw error;
  }
  ctx.log.session = submitted.session;
  ctx.log.ticket = submitted.ticket;

  if (wait.seconds > 0) await scheduler.waitFor(submitted.session, submitted.ticket, wait.seconds * 1000, ctx.signal);
  const current = await requireTicketRecord(deps, submitted.session, submitted.ticket, outputPlan(deps));
  const notice = joinNotices(waitNotice(wait), frontNotice);
  if (wait.seconds > 0 && isFinal(current.meta.status)) {
    const view = ticketView(ctx.view, current, { notice, replayOf: submitted.replayOf });
    const replay = submitted.replayOf === undefined ? undefined : { now: Date.now() };
    const json = { ...view, cached: replay !== undefined };
    const result: Answer<TicketView & { cached: boolean }> = { json, text: (shown = json) => textTranscript(shown, replay) };
    return result;
  }
  const view = submissionView(ctx.view, current.meta, { replayOf: submitted.replayOf, notice, queue: scheduler.standing(submitted.session, submitted.ticket) });
  const submission: Answer<Submission> = { json: view, text: (shown = view) => submissionText(shown) };
  return submission;
}
