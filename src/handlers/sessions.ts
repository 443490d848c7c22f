// GET /sessions: every session with its ticket count, last activity and whether something is
// running or queued, newest first, with ready URLs for its history and its live view.
import fs from 'node:fs';
import type { Handler } from '../deps.js';
import { sendJson } from '../http.js';

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

export const sessions: Handler = async ({ req, res, deps }) => {
  const { store, scheduler, view } = deps;
  const names = await store.listSessions();
  const summaries: SessionSummary[] = [];
  for (const session of names) {
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
      shell: `${base.replace('%PATH%', '/shell')}&wait=${Math.min(25, view.maxWait)}&cmd=`,
    });
  }
  summaries.sort((a, b) => b.last_activity.localeCompare(a.last_activity));
  sendJson(req, res, 200, {
    type: 'sessions',
    count: summaries.length,
    sessions: summaries,
    next:
      summaries.length === 0
        ? 'No sessions yet. GET /shell with a command (and no session=) to start one.'
        : 'GET a session\'s history URL for its tickets, its view URL for a live page, or its shell URL plus a URL-encoded command to run one there.',
  });
};
