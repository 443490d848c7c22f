// Start-up recovery: tickets left `queued` or `running` by a server that stopped or died become
// `interrupted`, with the output their spool kept, and the process groups a killed server left
// behind are found in /proc and ended. A damaged record is logged by its path and left as it
// is. Also the lock that keeps two servers off one SESSIONS_DIR.
import fs from 'node:fs';
import path from 'node:path';
import { errorCode, isDiskFull } from '../storage/safeFiles.js';
import type { Logger } from '../logging/logger.js';
import { recoverSpool } from '../storage/spool.js';
import { groupMembers, processStartTicks, terminateGroup } from '../running/processGroups.js';
import type { ProcessTracking } from '../running/processTracking.js';
import type { QueuedTicket, RunningTicket } from '../protocol/types.js';
import { isFinished } from '../protocol/types.js';
import { DamagedRecord, finalRecord } from '../storage/recordFields.js';
import { SessionLayout } from '../storage/sessionLayout.js';
import type { TicketStore } from '../storage/ticketStore.js';

const INTERRUPTED_NOTE = '\n[llmass: interrupted: the server stopped or died while this ticket was queued or running; this was found at the next start]\n';
/** Recovery needs a record's fields, not its output. */
const META_ONLY = { kind: 'window', offset: 0, limit: 1 } as const;

/**
 * Ends what an unfinished ticket of a dead server left running: every process in its cgroup or
 * carrying its marker (no other ticket shares them), and, for a ticket recorded as running, its
 * process group when the group's leader is still the process we started (same start time) or is
 * gone with members left: a PID still in use as a group ID is never handed to a new process.
 */
export function killLeftovers(ticket: QueuedTicket | RunningTicket, tracking: ProcessTracking): boolean {
  const tracked = ticket.process_marker === null ? undefined : tracking.forTicket(ticket.process_marker, false);
  let pgid: number | null = null;
  if (ticket.status === 'running') {
    const leaderTicks = processStartTicks(ticket.process_group);
    const leaderIsOurs = leaderTicks === null || ticket.process_started === null || leaderTicks === ticket.process_started;
    if (leaderIsOurs && groupMembers(ticket.process_group).length > 0) pgid = ticket.process_group;
  }
  if (pgid === null && (tracked?.members().length ?? 0) === 0) {
    tracked?.release();
    return false;
  }
  void terminateGroup(pgid, tracked).then(() => tracked?.release());
  return true;
}

async function interrupt(store: TicketStore, record: QueuedTicket | RunningTicket, maxOutputBytes: number): Promise<void> {
  const spoolFile = store.layout.spoolFile(record.session, record.ticket);
  const spooled = recoverSpool(spoolFile, maxOutputBytes);
  await store.write(
    finalRecord(record, {
      status: 'interrupted',
      startedAt: record.started_at === null ? null : new Date(record.started_at),
      finishedAt: new Date(),
      exitCode: null,
      signal: null,
      timeoutKind: null,
      output: (spooled?.output ?? '') + INTERRUPTED_NOTE,
      outputBytes: spooled?.total ?? 0,
      truncated: spooled?.truncated ?? false,
      droppedBytes: spooled?.dropped ?? 0,
      background: [],
    }),
  );
  fs.rmSync(spoolFile, { force: true });
}

/**
 * A session's tickets run in order, so every ticket below one that started had ended before
 * it started: scanning down from the newest until such a ticket finds every unfinished one
 * without reading a long session's whole history.
 */
async function recoverSession(store: TicketStore, tracking: ProcessTracking, session: string, maxOutputBytes: number, logger: Logger): Promise<number> {
  const numbers = await store.ticketNumbers(session);
  const dir = store.layout.sessionDir(session);
  const names = fs.readdirSync(dir);
  const spooled = new Set(names.flatMap((name) => SessionLayout.spoolOf(name) ?? []));
  let recovered = 0;
  for (let i = numbers.length - 1; i >= 0; i -= 1) {
    const ticket = numbers[i];
    if (ticket === undefined) continue;
    let meta;
    try {
      meta = (await store.read(session, ticket, META_ONLY))?.meta;
    } catch (error) {
      if (!(error instanceof DamagedRecord)) throw error;
      // Named by path and problem only: the file's bytes never reach the log.
      logger.error('damaged ticket record left as it is', { file: store.layout.ticketFile(session, ticket), problem: error.message });
      continue;
    }
    if (meta === undefined) continue;
    if (!isFinished(meta)) {
      if (killLeftovers(meta, tracking)) logger.info('ended the processes a ticket of the previous server left', { session, ticket });
      try {
        await interrupt(store, meta, maxOutputBytes);
        recovered += 1;
      } catch (error) {
        // A full disk: the record stays unfinished and the next start tries again.
        logger.error('could not mark an unfinished ticket interrupted', { file: store.layout.ticketFile(session, ticket), error: String(error) });
      }
    } else if (spooled.has(ticket)) {
      fs.rmSync(store.layout.spoolFile(session, ticket), { force: true });
    }
    if (meta.started_at !== null && isFinished(meta) && ![...spooled].some((n) => n < ticket)) break;
  }
  // Temp files of writes that never got renamed are debris of a crash.
  for (const name of names) {
    if (SessionLayout.isDebris(name)) fs.rmSync(path.join(dir, name), { force: true });
  }
  return recovered;
}

export async function recoverTickets(store: TicketStore, tracking: ProcessTracking, maxOutputBytes: number, logger: Logger): Promise<number> {
  let recovered = 0;
  for (const session of await store.listSessions()) {
    recovered += await recoverSession(store, tracking, session, maxOutputBytes, logger);
  }
  if (recovered > 0) logger.info('marked unfinished tickets interrupted', { tickets: recovered });
  return recovered;
}

/**
 * One server per SESSIONS_DIR: a second one's recovery would interrupt the first one's tickets.
 * The lock is a pid file; a lock whose process is gone is taken over.
 */
export function acquireLock(privateDir: string, logger: Logger): () => void {
  fs.mkdirSync(privateDir, { recursive: true, mode: 0o700 });
  const file = path.join(privateDir, 'server.pid');
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      try {
        fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      } catch (error) {
        if (!isDiskFull(error)) throw error;
        // No room for a few bytes: no other server holds the lock (it would have a file), so
        // go on without one rather than stay down on a full disk.
        fs.rmSync(file, { force: true });
        logger.error('could not write the lock file: the sessions disk is full; starting without it', { file });
        return () => undefined;
      }
      return () => {
        try {
          if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.rmSync(file);
        } catch {
          // already gone
        }
      };
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
      const holder = Number(fs.readFileSync(file, 'utf8').slice(0, 32).trim());
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
