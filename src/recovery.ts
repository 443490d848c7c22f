// Start-up recovery: tickets left `queued` or `running` by a server that stopped or died become
// `interrupted`, with the output their spool kept, and the process groups a killed server left
// behind are found in /proc and ended. Also the lock that keeps two servers off one SESSIONS_DIR.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from './log.js';
import { recoverSpool } from './output.js';
import type { FinishedTicket, TicketRecord } from './protocol.js';
import { isFinal } from './protocol.js';
import { KILL_GRACE_MS, groupMembers, processStartTicks, signalGroup } from './runner.js';
import type { TicketStore } from './tickets.js';

const INTERRUPTED_NOTE = '\n[llmass: interrupted: the server stopped or died while this ticket was queued or running; this was found at the next start]\n';

/**
 * Ends a process group a dead server left running. The group is ours when its leader is still
 * the process we started (same start time), or when the leader is gone but members remain: a
 * PID still in use as a group ID is never handed to a new process, so the ID cannot be reused.
 */
export function killLeftoverGroup(pgid: number, startedTicks: number | null): boolean {
  const leaderTicks = processStartTicks(pgid);
  const leaderIsOurs = leaderTicks !== null && (startedTicks === null || leaderTicks === startedTicks);
  const members = groupMembers(pgid);
  if (members.length === 0) return false;
  if (leaderTicks !== null && !leaderIsOurs) return false;
  signalGroup(pgid, 'SIGTERM');
  setTimeout(() => signalGroup(pgid, 'SIGKILL'), KILL_GRACE_MS).unref();
  return true;
}

async function interrupt(store: TicketStore, record: TicketRecord, maxOutputBytes: number): Promise<FinishedTicket> {
  const spoolFile = store.sidePath(record.session, record.ticket, 'out');
  const spooled = recoverSpool(spoolFile, maxOutputBytes);
  const finishedAt = new Date();
  const finished: FinishedTicket = {
    ticket: record.ticket,
    session: record.session,
    input: record.input,
    timeout: record.timeout,
    idle_timeout: record.idle_timeout,
    nonce: record.nonce,
    submitted_at: record.submitted_at,
    status: 'interrupted',
    started_at: record.started_at,
    finished_at: finishedAt.toISOString(),
    duration_ms: record.started_at === null ? null : finishedAt.getTime() - Date.parse(record.started_at),
    exit_code: null,
    signal: null,
    timeout_kind: null,
    output: (spooled?.stored.toString('utf8') ?? '') + INTERRUPTED_NOTE,
    output_bytes: spooled?.total ?? 0,
    truncated: spooled?.truncated ?? false,
  };
  await store.write(finished);
  fs.rmSync(spoolFile, { force: true });
  return finished;
}

/**
 * A session's tickets run in order, so every ticket below one that started had ended before
 * it started: scanning down from the newest until such a ticket finds every unfinished one
 * without reading a long session's whole history.
 */
async function recoverSession(store: TicketStore, session: string, maxOutputBytes: number, logger: Logger): Promise<number> {
  const numbers = await store.ticketNumbers(session);
  const dir = store.sessionDir(session);
  const spooled = new Set(
    fs.readdirSync(dir).flatMap((name) => {
      const match = /^\.(\d+)\.out$/.exec(name);
      return match?.[1] === undefined ? [] : [Number(match[1])];
    }),
  );
  let recovered = 0;
  for (let i = numbers.length - 1; i >= 0; i -= 1) {
    const ticket = numbers[i];
    if (ticket === undefined) continue;
    const record = await store.read(session, ticket);
    if (record === undefined) continue;
    if (!isFinal(record.status)) {
      if (record.status === 'running' && killLeftoverGroup(record.process_group, record.process_started)) {
        logger.info('ended a process group left by the previous server', { session, ticket, process_group: record.process_group });
      }
      await interrupt(store, record, maxOutputBytes);
      recovered += 1;
    } else if (spooled.has(ticket)) {
      fs.rmSync(store.sidePath(session, ticket, 'out'), { force: true });
    }
    if (record.started_at !== null && isFinal(record.status) && ![...spooled].some((n) => n < ticket)) break;
  }
  // Temp files of writes that never got renamed are debris of a crash.
  for (const name of fs.readdirSync(dir)) {
    if (/^\.\d+\.ticket\..*\.tmp$/.test(name) || name === '.shell-state.next') fs.rmSync(path.join(dir, name), { force: true });
  }
  return recovered;
}

export async function recoverTickets(store: TicketStore, maxOutputBytes: number, logger: Logger): Promise<number> {
  let recovered = 0;
  for (const session of await store.listSessions()) {
    recovered += await recoverSession(store, session, maxOutputBytes, logger);
  }
  if (recovered > 0) logger.info('marked unfinished tickets interrupted', { tickets: recovered });
  return recovered;
}

/**
 * One server per SESSIONS_DIR: a second one's recovery would interrupt the first one's tickets.
 * The lock is a pid file; a lock whose process is gone is taken over.
 */
export function acquireLock(privateDir: string): () => void {
  fs.mkdirSync(privateDir, { recursive: true, mode: 0o700 });
  const file = path.join(privateDir, 'server.pid');
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return () => {
        try {
          if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.rmSync(file);
        } catch {
          // already gone
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(fs.readFileSync(file, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processAlive(holder)) {
        throw new Error(`another LLMASS server (pid ${holder}) is using this SESSIONS_DIR; stop it first, or give this one another SESSIONS_DIR`);
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new Error(`could not take the lock ${file}`);
}

function processAlive(pid: number): boolean {
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('node');
  } catch {
    return false;
  }
}
