// Tracking every process a ticket started, including those that left its process group
// (setsid, set -m, double fork), so that cancel, time limits, shutdown and restart recovery
// can end them all. Where the host lets the server make cgroup v2 groups, each ticket gets one
// (its processes cannot leave it; cgroup.kill ends them at once). Otherwise each process
// carries a marker in its environment (LLMASS_TICKET=<random id>), found through /proc: a
// random id cannot be forged into another ticket, though a process that clears its own
// environment escapes this fallback (the README says so), and it needs the command user's /proc
// entries to be visible to the server (the self-check says when they are not).
//
// What a ticket's processes are is read from what the server can really see: a cgroup's
// cgroup.procs (which lists no zombies, and which hidepid does not hide), never an absence in a
// /proc the server may not be allowed to read. A ticket's processes themselves: ticketProcesses.ts.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { errorCode } from '../storage/safeFiles.js';
import { makeGroup, withLimits, type TicketLimits } from './ticketLimits.js';
import { CgroupProcesses, MarkedProcesses, type TicketProcesses } from './ticketProcesses.js';

export { MARKER_VARIABLE, type TicketProcesses } from './ticketProcesses.js';

function cgroup2Mount(): string | undefined {
  try {
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const [before, after] = line.split(' - ');
      if (after?.startsWith('cgroup2 ')) return before?.split(' ')[4];
    }
  } catch {
    // no /proc/self/mountinfo: no cgroups
  }
  return undefined;
}

function ownCgroup(): string | undefined {
  try {
    const line = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((entry) => entry.startsWith('0::'));
    return line?.slice(3);
  } catch {
    return undefined;
  }
}

export class ProcessTracking {
  /** Per-ticket pids and memory limits, where the host allows them (ticketLimits.ts). */
  private limits: TicketLimits | undefined;

  private constructor(
    /** The directory under which tickets' cgroups are made, or null: markers only. */
    readonly cgroupBase: string | null,
  ) {}

  /**
   * Uses cgroups when a cgroup v2 group can be made under the server's own; else markers. The
   * tickets' groups go under `llmass-tickets/<scope>`, one subtree per SESSIONS_DIR (scopeOf):
   * servers that share a parent cgroup (on one host, or in one container) never sweep or reuse
   * each other's groups, while a restart on the same SESSIONS_DIR finds its predecessor's.
   */
  static detect(scope: string, onFallback: (why: string) => void): ProcessTracking {
    const tickets = ProcessTracking.detectBase();
    if (tickets === undefined) {
      onFallback('no cgroup v2 hierarchy is mounted');
      return new ProcessTracking(null);
    }
    const base = path.join(tickets, scope);
    try {
      fs.mkdirSync(base, { recursive: true });
      const probe = path.join(base, `probe-${process.pid}`);
      fs.mkdirSync(probe);
      fs.rmdirSync(probe);
      return new ProcessTracking(base);
    } catch (error) {
      onFallback(`cgroup ${base} cannot be made (${errorCode(error)}); delegate a cgroup to the service (systemd: Delegate=yes)`);
      return new ProcessTracking(null);
    }
  }

  /** Where every server's ticket groups go under this process's cgroup, or undefined without cgroup v2. */
  static detectBase(): string | undefined {
    const mount = cgroup2Mount();
    const own = ownCgroup();
    return mount === undefined || own === undefined ? undefined : path.join(mount, own, 'llmass-tickets');
  }

  /**
   * The cgroup controllers the tickets' groups could use (cgroup.controllers of their parent):
   * per-ticket pids.max and memory.max need `pids` and `memory` delegated. Empty without cgroups.
   */
  controllers(): string[] {
    if (this.cgroupBase === null) return [];
    try {
      return fs.readFileSync(path.join(this.cgroupBase, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {
      return [];
    }
  }

  /** The scope of a SESSIONS_DIR: a digest of its real path. */
  static scopeOf(sessionsDir: string): string {
    let real = path.resolve(sessionsDir);
    try {
      real = fs.realpathSync(sessionsDir);
    } catch {
      // not made yet: its path as given
    }
    return crypto.createHash('sha256').update(real).digest('hex').slice(0, 16);
  }

  static newId(): string {
    return crypto.randomBytes(12).toString('hex');
  }

  /** New tickets get these limits' groups too. */
  useLimits(limits: TicketLimits): void {
    this.limits = limits;
  }

  /** The tracking of a ticket, new (create: with its limits) or found again after a restart. */
  forTicket(id: string, create: boolean): TicketProcesses {
    const tracked = this.tracked(id, create);
    return create && this.limits !== undefined ? withLimits(tracked, this.limits.forTicket(id)) : tracked;
  }

  private tracked(id: string, create: boolean): TicketProcesses {
    if (this.cgroupBase === null) return new MarkedProcesses(id);
    const dir = path.join(this.cgroupBase, id);
    try {
      if (create) makeGroup(dir);
      else if (!fs.existsSync(dir)) return new MarkedProcesses(id);
    } catch {
      // No cgroup for this one (a limit on cgroups, a full table): the marker still tracks it.
      return new MarkedProcesses(id);
    }
    return new CgroupProcesses(id, dir);
  }

  /** Removes the empty groups of its tickets, and its own subtree if that is empty then (shutdown). */
  close(): void {
    this.sweep();
    this.limits?.sweep(true);
    if (this.cgroupBase === null) return;
    try {
      fs.rmdirSync(this.cgroupBase);
    } catch {
      // a finished ticket's background processes still run in it: the next start finds them
    }
  }

  /** Removes the cgroups of tickets whose processes have all ended. */
  sweep(): void {
    this.limits?.sweep();
    if (this.cgroupBase === null) return;
    let names: string[];
    try {
      names = fs.readdirSync(this.cgroupBase);
    } catch {
      return;
    }
    for (const name of names) {
      if (!/^[0-9a-f]{24}$/.test(name)) continue;
      try {
        fs.rmdirSync(path.join(this.cgroupBase, name));
      } catch {
        // still has processes: a finished ticket's background work
      }
    }
  }
}
