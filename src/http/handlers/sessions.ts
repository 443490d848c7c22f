// GET /sessions: every session of the asking key (HASH: all) with its ticket count, last activity and whether something is
// running or queued, newest first, with ready URLs for its history, its live view and its
// next command. format=text gives the same as lines, the newest session's last ticket first;
// format=html a page for a person's browser, each session's live view a link.
import fs from 'node:fs';
import type { Handler } from '../requestContext.js';
import { sendHtml, sendJson, sendText } from '../respond.js';
import { decisionForms, escapeHtml, page, pageCsp } from '../../answers/html.js';
import type { Query } from '../query.js';
import { optionalFormat } from '../params.js';
import type { Answer, AnswerContext, AppDeps } from '../requestContext.js';
import { approvalLinks, isOperator } from '../approvalLinks.js';
import { historyEntry } from '../../answers/ticketViews.js';
import { historyUrl, shellUrl, viewUrl } from '../../answers/links.js';
import { statusText } from '../../answers/statusLine.js';
import { describeSessions } from '../../answers/wording.js';
import { maySee, outputPlan } from './lookups.js';

export interface SessionSummary {
  session: string;
  /** The key the session belongs to (the one that made it), HASH for the operator's. */
  key: string | null;
  tickets: number;
  last_ticket: number | null;
  last_activity: string;
  busy: boolean;
  history: string;
  view: string;
  shell: string;
  /** Commands waiting for approval; their links for the operator only. */
  pending?: Array<{ ticket: number; command: string; submitted_at: string; approve?: string; deny?: string }>;
}

export interface SessionsAnswer {
  type: 'sessions';
  count: number;
  sessions: SessionSummary[];
  next: string;
}

export const sessions: Handler = async (ctx) => {
  const answer = await sessionsAnswer(ctx, ctx.query);
  const format = optionalFormat(ctx.query, ['json', 'text', 'html'] as const);
  if (format === 'text') sendText(ctx.req, ctx.res, 200, answer.text());
  else if (format === 'html') sendHtml(ctx.req, ctx.res, 200, sessionsPage(answer.json), pageCsp(undefined, true));
  else sendJson(ctx.req, ctx.res, 200, answer.json);
};

/** A pending command on a page: the command, and for the operator the Approve and Deny buttons. */
export function pendingHtml(p: NonNullable<SessionSummary['pending']>[number]): string {
  const command = `<span class="status pending">#${p.ticket} pending</span> <code>${escapeHtml(p.command)}</code>`;
  if (p.approve === undefined || p.deny === undefined) return `${command} (waits for the operator)`;
  // Relative to the page: the forms post to this server whatever name the browser reached it by.
  const relative = (path: string, url: string): string => `${path}${url.slice(url.indexOf('?'))}`;
  return `${command} ${decisionForms(relative('approve', p.approve), relative('deny', p.deny))}`;
}

/** The sessions as a page for a person's browser: each a row, its live view a link, its pending commands with the buttons. */
function sessionsPage(answer: SessionsAnswer): string {
  const rows = answer.sessions.map(
    (s) =>
      `<tr><td><a href="${escapeHtml(s.view)}">${escapeHtml(s.session)}</a></td><td>${s.tickets}</td><td>${escapeHtml(s.key ?? 'unknown')}</td>` +
      `<td>${escapeHtml(s.last_activity)}</td><td class="${s.busy ? 'status running' : 'status'}">${s.busy ? 'busy' : 'idle'}</td><td><a href="${escapeHtml(`${s.history}&format=text`)}">history</a></td></tr>` +
      (s.pending ?? []).map((p) => `\n<tr class="pending"><td colspan="6">${pendingHtml(p)}</td></tr>`).join(''),
  );
  const table = answer.count === 0 ? '<p>No sessions yet.</p>' : `<table><tr><th>session (live view)</th><th>tickets</th><th>made by</th><th>last activity</th><th>now</th><th></th></tr>\n${rows.join('\n')}\n</table>`;
  return page('LLMASS sessions', `<h1>Sessions</h1>\n${table}`);
}

/** The session's pending commands as /sessions lists them: with approval links for the operator only. */
function pendingOf(deps: AppDeps, principal: AnswerContext['principal'], session: string): Pick<SessionSummary, 'pending'> {
  const pending = deps.scheduler.pendingOf(session);
  if (pending.length === 0) return {};
  return {
    pending: pending.map((record) => ({
      ticket: record.ticket,
      command: record.input,
      submitted_at: record.submitted_at,
      ...(isOperator(principal) ? approvalLinks(deps, session, record.ticket) : {}),
    })),
  };
}

export async function sessionsAnswer({ deps, view, principal }: AnswerContext, query: Query): Promise<Answer<SessionsAnswer>> {
  const { store, scheduler } = deps;
  optionalFormat(query, ['json', 'text', 'html'] as const);
  const summaries: SessionSummary[] = [];
  for (const session of await store.listSessions()) {
    // Another key's sessions are not there for this one (HASH sees all).
    if (!(await maySee(deps, principal?.key, session))) continue;
    const numbers = await store.ticketNumbers(session);
    let mtime: Date;
    try {
      mtime = (await fs.promises.lstat(store.layout.sessionDir(session))).mtime;
    } catch {
      continue; // removed while we listed
    }
    summaries.push({
      session,
      key: (await deps.owners.ownerOf(session)).key,
      tickets: numbers.length,
      last_ticket: numbers.at(-1) ?? null,
      last_activity: mtime.toISOString(),
      busy: scheduler.isSessionBusy(session),
      history: historyUrl(view, session),
      view: viewUrl(view, session),
      shell: shellUrl(view, session),
      ...pendingOf(deps, principal, session),
    });
  }
  summaries.sort((a, b) => b.last_activity.localeCompare(a.last_activity));
  const next = describeSessions(view.front, summaries.length);
  const json: SessionsAnswer = { type: 'sessions', count: summaries.length, sessions: summaries, next };
  const newest = summaries[0];
  let first = `[${summaries.length} session(s)`;
  if (newest !== undefined && newest.last_ticket !== null) {
    const found = await scheduler.get(newest.session, newest.last_ticket, outputPlan(deps)).catch(() => undefined);
    if (found !== undefined) first += ` · newest ${newest.session}: ${statusText(historyEntry(view, found))}`;
  }
  const line = (s: Partial<SessionSummary> & Pick<SessionSummary, 'session' | 'tickets' | 'key' | 'last_activity' | 'busy'>): string => {
    let text = `${s.session}: ${s.tickets} ticket(s), made by ${s.key ?? 'unknown'}, last activity ${s.last_activity}${s.busy ? ', busy' : ''}`;
    if (s.history !== undefined) text += `\n  history: ${s.history}&format=text`;
    if (s.view !== undefined) text += `\n  view (read-only): ${s.view}`;
    if (s.shell !== undefined) text += `\n  shell: ${s.shell}`;
    for (const p of s.pending ?? []) text += `\n  pending #${p.ticket}: ${p.command}${p.approve === undefined ? ' (waits for the operator)' : `\n    approve (POST): ${p.approve}\n    deny (POST, &reason=…): ${p.deny ?? ''}`}`;
    return text;
  };
  return { json, text: (shown = json) => `${first}]\n\n${shown.sessions.map(line).join('\n')}\n\nNext: ${next}\n` };
}
