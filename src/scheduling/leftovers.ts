// Leftovers: processes a finished ticket left running (a server started with &, a fork bomb's
// children). They are kept track of per command user, oldest first, and ended (KILL to the
// ticket's cgroup or marked processes, counted once seen gone) on a cancel of their ticket, or
// when they hold the user's process limit (COMMAND_MAX_PROCESSES, less a few for the next
// command's shell): then the oldest are ended until they hold half of it, so that the user's
// next command can start. Each ending is written into the ticket's record and the audit log.
import type { AuditLog } from '../logging/audit.js';
import { isFinished, type FinishedTicket, type LeftoversEnded } from '../protocol/types.js';
import type { TicketProcesses } from '../running/processTracking.js';
import type { TicketStore } from '../storage/ticketStore.js';

/** Processes kept free for the next command: its shell, the prelude's, a pipe or two. */
const HEADROOM = 8;
/** How long a KILL may take to show (a process in uninterruptible sleep takes longer). */
const GONE_WITHIN_MS = 3000;

interface Leftover {
  readonly session: string;
  readonly ticket: number;
  /** The command user's name ('' for the server's own user). */
  readonly user: string;
  readonly processes: TicketProcesses;
}

/** KILLs every process of `processes` and resolves with how many were seen gone. */
export async function endAll(processes: TicketProcesses): Promise<number> {
  const before = processes.members().length;
  if (before === 0) return 0;
  processes.signal('SIGKILL');
  const deadline = Date.now() + GONE_WITHIN_MS;
  while (processes.members().length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  const left = processes.members().length;
  processes.release();
  return before - left;
}

export interface LeftoversDeps {
  readonly maxProcesses: number;
  readonly store: TicketStore;
  readonly audit: AuditLog;
  readonly onError: (message: string, error: unknown) => void;
  /** A finished ticket's record changed: answers kept for it are stale. */
  readonly onRecordChanged: () => void;
}

export class Leftovers {
  /** Oldest first. */
  private kept: Leftover[] = [];

  constructor(private readonly deps: LeftoversDeps) {}

  /** A ticket has finished: what it left running is kept track of, and the user's limit checked. Never rejects. */
  async afterFinish(record: FinishedTicket, processes: TicketProcesses | undefined, user: string): Promise<void> {
    if (processes !== undefined && processes.members().length > 0) this.kept.push({ session: record.session, ticket: record.ticket, user, processes });
    await this.makeRoom(user);
  }

  /**
   * When the user's leftovers hold its process limit (but for HEADROOM), ends the oldest until
   * they hold half of it: at a ticket's end, and before each command starts (leftovers may have
   * grown since). Cheap when the user has none: nothing is read. Never rejects.
   */
  async makeRoom(user: string): Promise<void> {
    try {
      await this.endOldest(user);
    } catch (error) {
      this.deps.onError('ending leftovers failed', error);
    }
  }

  private async endOldest(user: string): Promise<void> {
    const mine = this.kept.filter((leftover) => leftover.user === user);
    if (mine.length === 0) return;
    const counts = new Map(mine.map((leftover) => [leftover, leftover.processes.members().length]));
    let held = [...counts.values()].reduce((sum, count) => sum + count, 0);
    this.kept = this.kept.filter((leftover) => counts.get(leftover) !== 0);
    if (held < this.deps.maxProcesses - HEADROOM) return;
    for (const leftover of mine) {
      if (held <= this.deps.maxProcesses / 2) break;
      const before = counts.get(leftover) ?? 0;
      if (before === 0) continue;
      held -= before;
      await this.end(leftover, 'process-limit');
    }
  }

  /** A cancel of a finished ticket: ends what it left running; how many were seen gone. */
  async cancel(session: string, ticket: number, processes: TicketProcesses): Promise<number> {
    const kept = this.kept.find((leftover) => leftover.session === session && leftover.ticket === ticket);
    return this.end(kept ?? { session, ticket, user: '', processes }, 'cancel');
  }

  private async end(leftover: Leftover, why: LeftoversEnded['why']): Promise<number> {
    this.kept = this.kept.filter((other) => other !== leftover);
    const count = await endAll(leftover.processes);
    if (count === 0) return 0;
    const { session, ticket } = leftover;
    this.deps.audit.record({ event: 'background_ended', session, ticket, count, why });
    try {
      await this.note(session, ticket, { count, at: new Date().toISOString(), why });
    } catch (error) {
      this.deps.onError('the end of a ticket\'s leftovers could not be written into its record (the audit log has it)', error);
    }
    return count;
  }

  /** Writes the ending into the finished ticket's record, its output kept whole. */
  private async note(session: string, ticket: number, ended: LeftoversEnded): Promise<void> {
    const size = (await this.deps.store.read(session, ticket, { kind: 'window', offset: 0, limit: 1 }))?.output.storedBytes ?? 0;
    const stored = await this.deps.store.read(session, ticket, { kind: 'window', offset: 0, limit: Math.max(1, size) });
    const meta = stored?.meta;
    if (stored === undefined || meta === undefined || !isFinished(meta)) return;
    const { output } = stored;
    const text = output.kind === 'whole' ? output.text : output.kind === 'window' ? output.bytes.toString('utf8') : undefined;
    if (text === undefined) return;
    await this.deps.store.write({ ...meta, background_ended: ended, output: text });
    this.deps.onRecordChanged();
  }
}
