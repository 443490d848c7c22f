// GET /sessions: every session with its ticket count, last activity and whether something is
// running or queued, newest first, with ready URLs for its history, its live view and its
// next command. format=text gives the same as lines, the newest session's last ticket first.
import fs from 'node:fs';
import type { Handler } from '../deps.js';
import { sendJson, sendText } from '../http.js';
import { optionalFormat } from '../params.js';
import { historyEntry, shellUrl, statusLine } from '../views.js';
import { outputPlan } from './common.js';

export interface SessionSummary {
  session: string;
  tickets: number;
  last_ticket: number | null;
  last_activity: string;
  busy: boolean;
  history: string;
  view: string;
  shell: string;
}

export const sessions: Handler = async ({ req, res, query, deps }) => {
  const { store, scheduler, view } = deps;
  const format = optionalFormat(query, ['json', 'text'] as const);
  const summaries: SessionSummary[] = [];
  for (const session of await store.listSessions()) {
    const numbers = await store.ticketNumbers(session);
    let mtime: Date;
    try {
      mtime = (await fs.promises.lstat(store.layout.sessionDir(session))).mtime;
    } catch {
      continue; // removed while we listed
    }
    const base = `${view.fqdn}%PATH%?hash=${encodeURIComponent(view.hash)}&session=${session}`;
    summaries.push({
      session,
      tickets: numbers.length,
      last_ticket: numbers.at(-1) ?? null,
      last_activity: mtime.toISOString(),
      busy: scheduler.isSessionBusy(session),
      history: base.replace('%PATH%', '/history'),
      view: base.replace('%PATH%', '/view'),
      shell: shellUrl(view, session),
    });
  }
  summaries.sort((a, b) => b.last_activity.localeCompare(a.last_activity));
  const next =
    summaries.length === 0
      ? 'No sessions yet. GET /shell with a command (and no session=) to start one.'
      : "GET a session's history URL for its tickets, its view URL for a live page, or its shell URL plus a URL-encoded command to run one there.";
  if (format !== 'text') {
    sendJson(req, res, 200, { type: 'sessions', count: summaries.length, sessions: summaries, next });
    return;
  }
  const newest = summaries[0];
  let first = `[${summaries.length} session(s)`;
  if (newest !== undefined && newest.last_ticket !== null) {
    const found = await scheduler.get(newest.session, newest.last_ticket, outputPlan(deps)).catch(() => undefined);
    if (found !== undefined) first += ` · newest ${newest.session}: ${statusLine(historyEntry(view, found)).slice(1, -1)}`;
  }
  const lines = summaries.map((s) => `${s.session}: ${s.tickets} ticket(s), last activity ${s.last_activity}${s.busy ? ', busy' : ''}\n  history: ${s.history}&format=text\n  shell: ${s.shell}`);
  sendText(req, res, 200, `${first}]\n\n${lines.join('\n')}\n\nNext: ${next}\n`);
};
