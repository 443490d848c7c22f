// What a ticket is now, from whichever part holds it: a running command (with its output so far,
// or its end while that is being stored), the queue, or its record on disk (with the background
// processes it left that still run).
import type { OutputPlan } from '../protocol/outputParts.js';
import { isFinished, type BackgroundProcess } from '../protocol/types.js';
import type { TicketState } from '../protocol/ticketState.js';
import { isLive, processStartTicks } from '../running/processGroups.js';
import type { ProcessTracking, TicketProcesses } from '../running/processTracking.js';
import { collectText } from '../storage/outputCollector.js';
import type { TicketStore } from '../storage/ticketStore.js';
import type { TicketQueue } from './queue.js';
import type { RunningTickets } from './runningTickets.js';

/** The parts a ticket may be held by. */
export interface TicketSources {
  readonly runs: RunningTickets;
  readonly queue: TicketQueue;
  readonly store: TicketStore;
  readonly tracking: ProcessTracking;
}

/**
 * The processes a finished ticket left that still run: those its cgroup still holds (which no
 * other process can join, and which the server sees whatever /proc hides), or, without one,
 * the same PID with the same start time.
 */
function stillRunning(processes: readonly BackgroundProcess[], tracked: TicketProcesses | undefined): Array<{ pid: number; command: string }> {
  if (processes.length === 0) return [];
  const inCgroup = tracked?.kind === 'cgroup' ? new Set(tracked.members()) : undefined;
  // A zombie has ended: it is only waiting for its parent to reap it.
  const runs = (p: BackgroundProcess): boolean => (inCgroup !== undefined ? inCgroup.has(p.pid) : p.started !== null && processStartTicks(p.pid) === p.started && isLive(p.pid));
  return processes.filter(runs).map(({ pid, command }) => ({ pid, command }));
}

/**
 * The ticket as it stands: from memory while it is active, else from disk. Throws
 * DamagedRecord when its file on disk is damaged.
 */
export async function ticketState(parts: TicketSources, session: string, ticket: number, plan: OutputPlan): Promise<TicketState | undefined> {
  const live = parts.runs.live(session, ticket, plan);
  if (live !== undefined) {
    const { storeProblem, ...found } = live;
    if (storeProblem === null) return found;
    return {
      ...found,
      note: `The command has ended, but its result is not on disk yet (${storeProblem}); it is answered as soon as it is stored, which happens by itself when space returns.`,
    };
  }
  const waiting = parts.queue.find(session, ticket);
  if (waiting !== undefined) return { meta: waiting.record, output: collectText('', plan), outputBytes: 0, truncated: false, outputDropped: 0, background: [] };
  const stored = await parts.store.read(session, ticket, plan);
  if (stored === undefined) return undefined;
  const meta = stored.meta;
  if (!isFinished(meta)) return { meta, output: stored.output, outputBytes: 0, truncated: false, outputDropped: 0, background: [] };
  return {
    meta,
    output: stored.output,
    outputBytes: meta.output_bytes,
    truncated: meta.truncated,
    outputDropped: meta.output_dropped_bytes,
    background: stillRunning(meta.background, meta.background.length === 0 || meta.process_marker === null ? undefined : parts.tracking.forTicket(meta.process_marker, false)),
  };
}
