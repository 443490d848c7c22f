// GET /sessions: every session with its ticket count, last activity and whether something is
// running or queued, newest first, with ready URLs for its history, its live view and its
// next command. format=text gives the same as lines, the newest session's last ticket first.
import fs from 'node:fs';
import type { Handler } from '../requestContext.js';
import { sendJson, sendText } from '../respond.js';
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
  if (optionalFormat(ctx.query, ['json', 'text'] as const) === 'text') sendText(ctx.req, ctx.res, 200, answer.text());
  else sendJson(ctx.req, ctx.res, 200, answer.json);
};

export async function sessionsAnswer({ deps, view }: AnswerContext, query: Query): Promise<Answer<SessionsAnswer>> {
  const { store, scheduler } = deps;
  optionalFormat(query, ['json', 'text'] as const);
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
