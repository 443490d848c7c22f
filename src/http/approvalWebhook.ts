// APPROVAL_WEBHOOK: each pending command is POSTed there as JSON, with its two approval links,
// so that a person can decide from a phone (a chat bot, ntfy, a mail gateway). Tried three
// times (2 s, then 10 s apart), 10 s each; what failed is logged, never the links' tokens.
import type { QueuedTicket } from '../protocol/types.js';
import type { Logger } from '../logging/logger.js';

const ATTEMPT_MS = 10_000;
const RETRY_DELAYS_MS = [2_000, 10_000];

export interface WebhookPayload {
  readonly session: string;
  readonly ticket: number;
  readonly key: string;
  readonly command: string;
  readonly approve: string;
  readonly deny: string;
}

async function attempt(url: string, body: string): Promise<string | undefined> {
  try {
    const answer = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(ATTEMPT_MS), redirect: 'error' });
    await answer.arrayBuffer().catch(() => undefined);
    return answer.ok ? undefined : `it answered HTTP ${answer.status}`;
  } catch (error) {
    return error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
  }
}

/** Sends `payload` to the webhook; resolves once it was taken or every attempt failed (logged). */
export async function notifyWebhook(url: string, record: QueuedTicket, links: { approve: string; deny: string }, logger: Logger): Promise<void> {
  const payload: WebhookPayload = { session: record.session, ticket: record.ticket, key: record.key ?? 'unknown', command: record.input, ...links };
  const body = JSON.stringify(payload);
  let failure = await attempt(url, body);
  for (const delay of RETRY_DELAYS_MS) {
    if (failure === undefined) return;
    await new Promise((resolve) => setTimeout(resolve, delay).unref());
    failure = await attempt(url, body);
  }
  if (failure !== undefined) logger.error('the approval webhook did not take a pending command after 3 attempts; it waits on /sessions', { session: record.session, ticket: record.ticket, error: failure });
}
