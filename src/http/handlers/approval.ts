// /approve and /deny: a person's decision on a pending command. A GET (a link opened, previewed,
// prefetched or fetched again) only shows the command and its state; a POST decides. Both take
// the operator's key or an approval link (routes.ts: access `approve`). A browser gets pages
// with the buttons; anything else JSON.
import type { IncomingMessage } from 'node:http';
import { decisionForms, escapeHtml, page, pageCsp } from '../../answers/html.js';
import { MAX_REASON_BYTES } from '../../protocol/endpoints.js';
import { isFinished, type TicketMeta } from '../../protocol/types.js';
import type { DecisionResult } from '../../scheduling/approvals.js';
import { StorageUnavailable } from '../../scheduling/unavailable.js';
import { noStorage } from '../domainErrors.js';
import { HttpError } from '../httpError.js';
import type { Handler, RequestContext } from '../requestContext.js';
import { sendHtml, sendJson } from '../respond.js';
import { outputPlan, requireTicketParams, requireTicketRecord } from './lookups.js';

const MAX_FORM_BYTES = 8 * 1024;

interface ApprovalAnswer {
  type: 'approval';
  session: string;
  ticket: number;
  key: string;
  command: string;
  status: string;
  submitted_at: string;
  decided: boolean;
  approval?: unknown;
  reason?: string;
  next: string;
}

/** A form's fields (a browser's POST), read up to MAX_FORM_BYTES; empty for any other body. */
async function formFields(req: IncomingMessage): Promise<URLSearchParams> {
  if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    req.resume();
    return new URLSearchParams();
  }
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new HttpError(413, `the form is larger than ${MAX_FORM_BYTES / 1024} KiB`, `a reason may be up to ${MAX_REASON_BYTES} bytes`);
    parts.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(parts).toString('utf8'));
}

/** The reason for a denial: reason= in the query or the form; 400 beyond 1 KiB. */
async function reasonOf(ctx: RequestContext): Promise<string> {
  const given = ctx.query.get('reason') ?? (await formFields(ctx.req)).get('reason') ?? '';
  if (Buffer.byteLength(given, 'utf8') > MAX_REASON_BYTES) {
    throw new HttpError(400, `the reason is longer than ${MAX_REASON_BYTES} bytes`, 'say why in a sentence or two: the agent reads it in the ticket\'s view');
  }
  return given.trim() === '' ? 'denied by the operator' : given.trim();
}

function wantsPage(req: IncomingMessage): boolean {
  return String(req.headers.accept ?? '').includes('text/html');
}

function answerOf(meta: TicketMeta, decided: boolean, next: string): ApprovalAnswer {
  return {
    type: 'approval',
    session: meta.session,
    ticket: meta.ticket,
    key: meta.key ?? 'unknown',
    command: meta.input,
    status: meta.status,
    submitted_at: meta.submitted_at,
    decided,
    ...(meta.approval === undefined ? {} : { approval: meta.approval }),
    ...(isFinished(meta) && meta.status === 'denied' && meta.reason !== null ? { reason: meta.reason } : {}),
    next,
  };
}

/** The page a browser gets: the command, its state, and while it is pending the two buttons. */
function approvalPage(answer: ApprovalAnswer, target: string): string {
  const query = target.slice(target.indexOf('?'));
  const base = new URLSearchParams(query);
  base.delete('reason');
  const action = (path: string): string => `${path}?${base.toString()}`;
  const buttons = answer.status === 'pending' ? decisionForms(action('approve'), action('deny')) : '';
  return page(
    `LLMASS: ticket ${answer.ticket} of ${answer.session}`,
    `<h1>Ticket ${answer.ticket} of ${escapeHtml(answer.session)}</h1>
<p>Submitted by <b>${escapeHtml(answer.key)}</b> at ${escapeHtml(answer.submitted_at)}: <span class="status ${escapeHtml(answer.status)}">${escapeHtml(answer.status)}</span></p>
<pre class="cmd">${escapeHtml(`$ ${answer.command}`)}</pre>
<p class="next">${escapeHtml(answer.next)}</p>
${buttons}`,
  );
}

function send(ctx: RequestContext, status: number, answer: ApprovalAnswer): void {
  if (wantsPage(ctx.req)) sendHtml(ctx.req, ctx.res, status, approvalPage(answer, ctx.req.url ?? ''), pageCsp(undefined, true));
  else sendJson(ctx.req, ctx.res, status, answer);
}

function shownNext(meta: TicketMeta): string {
  if (meta.status === 'pending') return 'Waiting for a decision. POST to /approve or /deny (with &reason=…) with these parameters to decide; a GET decides nothing.';
  if (meta.approval !== undefined) return `Decided already: ${meta.approval.decision} (${meta.approval.by}, ${meta.approval.at}). It is ${meta.status} now.`;
  return `Ticket ${meta.ticket} did not wait for approval: it is ${meta.status}.`;
}

function decide(kind: 'approve' | 'deny'): Handler {
  return async (ctx) => {
    const { deps } = ctx;
    const { session, ticket } = await requireTicketParams(ctx, ctx.query);
    const plan = outputPlan(deps);
    const before = await requireTicketRecord(deps, session, ticket, plan);
    if (ctx.req.method !== 'POST') {
      send(ctx, 200, answerOf(before.meta, false, shownNext(before.meta)));
      return;
    }
    const decision = kind === 'approve' ? ({ kind } as const) : ({ kind, reason: await reasonOf(ctx) } as const);
    let result: DecisionResult;
    try {
      result = await deps.scheduler.decide(session, ticket, decision, ctx.principal?.kind === 'key' ? 'HASH' : 'link', ctx.client);
    } catch (error) {
      if (error instanceof StorageUnavailable) throw noStorage(error, 'nothing was decided: the ticket is still pending');
      throw error;
    }
    if (result.kind === 'conflict') throw new HttpError(409, result.why, 'GET /approve with the same parameters shows where the ticket stands');
    const after = (await requireTicketRecord(deps, session, ticket, plan)).meta;
    const next =
      result.kind === 'unchanged'
        ? `Approved already: nothing changed. It is ${after.status} now.`
        : kind === 'approve'
          ? `Approved: ticket ${ticket} is ${after.status} now and runs in its turn; the agent sees it in its poll.`
          : `Denied: ticket ${ticket} ended denied without running; the agent reads the reason in its poll.`;
    send(ctx, 200, answerOf(after, result.kind === 'decided', next));
  };
}

export const approve = decide('approve');
export const deny = decide('deny');
