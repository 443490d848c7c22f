// A ticket's processes, found and signalled: through its cgroup v2 group (CgroupProcesses), or
// through the marker in their environment (MarkedProcesses), as processTracking.ts decides.
import fs from 'node:fs';
import path from 'node:path';
import { errorCode } from '../storage/safeFiles.js';
import { attachAll, type GroupJoin } from './groupJoins.js';
import { isLive } from './processGroups.js';

export const MARKER_VARIABLE = 'LLMASS_TICKET';

export interface TicketProcesses {
  /** The ticket's tracking id: its cgroup's name, and its environment marker. */
  readonly id: string;
  /** How its processes are found: its cgroup, or the marker in their environment. */
  readonly kind: 'cgroup' | 'marker';
  /**
   * Puts the command's first process under tracking; it must not run anything before this
   * settles. Resolves with why it could not (the kernel refused the move into the cgroup), or
   * null once the process is under tracking.
   */
  attach(pid: number): Promise<string | null>;
  /**
   * The same as files to write the PID to, in order, for a process that attaches itself in
   * another process (the spawner, spawner.ts): empty for the marker, which needs no move.
   */
  readonly joins: readonly GroupJoin[];
  /** The live processes of the ticket. */
  members(): number[];
  signal(signal: NodeJS.Signals): void;
  /** Removes the ticket's cgroup once it is empty (background processes may keep it a while). */
  release(): void;
  /** Whether the kernel ended a process of it for want of memory (with per-ticket limits, ticketLimits.ts). */
  oomKilled?(): boolean;
}

function markerOf(pid: string): string | undefined {
  try {
    const environ = fs.readFileSync(`/proc/${pid}/environ`, 'latin1');
    const start = environ.indexOf(`${MARKER_VARIABLE}=`);
    if (start === -1) return undefined;
    const end = environ.indexOf('\0', start);
    return environ.slice(start + MARKER_VARIABLE.length + 1, end === -1 ? undefined : end);
  } catch {
    return undefined;
  }
}

function signalEach(pids: readonly number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone already
    }
  }
}

export class CgroupProcesses implements TicketProcesses {
  readonly kind = 'cgroup';
  /** What cgroup.procs held at the last read: a read that fails is not evidence of an end. */
  private lastMembers: number[] = [];

  readonly joins: readonly GroupJoin[];

  constructor(
    readonly id: string,
    private readonly dir: string,
  ) {
    this.joins = [{ procs: path.join(dir, 'cgroup.procs'), what: 'cgroup' }];
  }

  /** In the thread pool (groupJoins.ts). (A shell started ahead is moved by the spawner instead: its joins.) */
  attach(pid: number): Promise<string | null> {
    return attachAll(this.joins, pid);
  }

  /** cgroup.procs lists the live processes only (a zombie has left it), whoever may see their /proc entries. */
  members(): number[] {
    try {
      this.lastMembers = fs
        .readFileSync(path.join(this.dir, 'cgroup.procs'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map(Number);
    } catch (error) {
      // The group is gone only if its directory is: another failure leaves the last members standing.
      if (errorCode(error) === 'ENOENT') this.lastMembers = [];
    }
    return this.lastMembers;
  }

  signal(signal: NodeJS.Signals): void {
    if (signal === 'SIGKILL') {
      try {
        // Every process in the group at once, including any forked meanwhile.
        fs.writeFileSync(path.join(this.dir, 'cgroup.kill'), '1');
        return;
      } catch {
        // an older kernel without cgroup.kill: one by one below
      }
    }
    signalEach(this.members(), signal);
  }

  release(): void {
    try {
      fs.rmdirSync(this.dir);
    } catch {
      // not empty yet (background processes) or gone: the sweep takes it later
    }
  }
}

export class MarkedProcesses implements TicketProcesses {
  readonly kind = 'marker';
  readonly joins: readonly GroupJoin[] = [];

  constructor(readonly id: string) {}

  attach(): Promise<string | null> {
    // The marker is in the command's environment from its start.
    return Promise.resolve(null);
  }

  members(): number[] {
    const members: number[] = [];
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      if (markerOf(entry) === this.id && isLive(entry)) members.push(Number(entry));
    }
    return members;
  }

  signal(signal: NodeJS.Signals): void {
    signalEach(this.members(), signal);
  }

  release(): void {}
}
