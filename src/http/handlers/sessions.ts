// GET /sessions: every session with its ticket count, last activity and whether something is
// running or queued, newest first, with ready URLs for its history, its live view and its
// next command. format=text gives the same as lines, the newest session's last ticket first;
// format=html a page for a person's browser, each session's live view a link.
import fs from 'node:fs';
import type { Handler } from '../requestContext.js';
import { sendHtml, sendJson, sendText } from '../respond.js';
import { escapeHtml, page, pageCsp } from '../../answers/html.js';
import type { Query } from '../query.js';
import { optionalFormat } from '../params.js';
import type { Answer, AnswerContext, AppDeps } from '../requestContext.js';
import { historyEntry } from '../../answers/ticketViews.js';
import { historyUrl, shellUrl, viewUrl } from '../../answers/links.js';
import { statusText } from '../../answers/statusLine.js';
import { describeSessions } from '../../answers/wording.js';
import { outputPlan } from './lookups.js';

export interface SessionSummary {
  session: string;
  /** The key that made the session (its first ticket's), HASH for the operator's. */
  key: string | null;
  tickets: number;
  last_ticket: number | null;
  last_activity: string;
  busy: boolean;
  history: string;
  view: string;
  shell: string;
}

/** The key that submitted a session's first ticket, from its record (small: cached). */
async function creatorOf(deps: AppDeps, session: string, first: number | undefined): Promise<string | null> {
  if (first === undefined) return null;
  const found = await deps.scheduler.get(session, first, { kind: 'window', offset: 0, limit: 1 }).catch(() => undefined);
  return found?.meta.key ?? null;
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
  else if (format === 'html') sendHtml(ctx.req, ctx.res, 200, sessionsPage(answer.json), pageCsp());
  else sendJson(ctx.req, ctx.res, 200, answer.json);
};

/** The sessions as a page for a person's browser: each a row, its live view a link. */
function sessionsPage(answer: SessionsAnswer): string {
  const rows = answer.sessions.map(
    (s) =>
      `<tr><td><a href="${escapeHtml(s.view)}">${escapeHtml(s.session)}</a></td><td>${s.tickets}</td><td>${escapeHtml(s.key ?? 'unknown')}</td>` +
      `<td>${escapeHtml(s.last_activity)}</td><td class="${s.busy ? 'status running' : 'status'}">${s.busy ? 'busy' : 'idle'}</td><td><a href="${escapeHtml(`${s.history}&format=text`)}">history</a></td></tr>`,
  );
  const table = answer.count === 0 ? '<p>No sessions yet.</p>' : `<table><tr><th>session (live view)</th><th>tickets</th><th>made by</th><th>last activity</th><th>now</th><th></th></tr>\n${rows.join('\n')}\n</table>`;
  return page('LLMASS sessions', `<h1>Sessions</h1>\n${table}`);
}

export async function sessionsAnswer({ deps, view }: AnswerContext, query: Query): Promise<Answer<SessionsAnswer>> {
  const { store, scheduler } = deps;
  optionalFormat(query, ['json', 'text', 'html'] as const);
  const summaries: SessionSummary[] = [];
  for (const session of await store.listSessions()) {
    const numbers = await store.ticketNumbers(session);
    let mtime: Date;
    try {
      mtime = (await fs.promises.lstat(store.layout.sessionDir(session))).mtime;
    } catch {
      continue; // removed while we listed
    }
    summaries.push({
      session,
      key: await creatorOf(deps, session, numbers[0]),
      tickets: numbers.length,
      last_ticket: numbers.at(-1) ?? null,
      last_activity: mtime.toISOString(),
      busy: scheduler.isSessionBusy(session),
      history: historyUrl(view, session),
      view: viewUrl(view, session),
      shell: shellUrl(view, session),
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
    return text;
  };
  return { json, text: (shown = json) => `${first}]\n\n${shown.sessions.map(line).join('\n')}\n\nNext: ${next}\n` };
}
