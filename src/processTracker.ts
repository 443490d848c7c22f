// Tracking every process a ticket started, including those that left its process group
// (setsid, set -m, double fork), so that cancel, time limits, shutdown and restart recovery
// can end them all. Where the host lets the server make cgroup v2 groups, each ticket gets one
// (its processes cannot leave it; cgroup.kill ends them at once). Otherwise each process
// carries a marker in its environment (LLMASS_TICKET=<random id>), found through /proc: a
// random id cannot be forged into another ticket, though a process that clears its own
// environment escapes this fallback (the README says so).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { errorCode } from './files.js';
import { isLive } from './processGroup.js';

export const MARKER_VARIABLE = 'LLMASS_TICKET';

export interface TicketProcesses {
  /** The ticket's tracking id: its cgroup's name, and its environment marker. */
  readonly id: string;
  /**
   * Puts the command's first process under tracking; it must not run anything before this
   * settles. Resolves either way: where the cgroup refuses it, the marker still tracks it.
   */
  attach(pid: number): Promise<void>;
  /** The live processes of the ticket. */
  members(): number[];
  signal(signal: NodeJS.Signals): void;
  /** Removes the ticket's cgroup once it is empty (background processes may keep it a while). */
  release(): void;
}

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

class CgroupProcesses implements TicketProcesses {
  constructor(
    readonly id: string,
    private readonly dir: string,
  ) {}

  /**
   * In the thread pool: moving a process into a cgroup waits for the kernel's threadgroup lock,
   * which took from 0.1 ms to 30 ms here (a tenth of them over 8 ms), and must not hold up the
   * event loop meanwhile.
   */
  attach(pid: number): Promise<void> {
    return new Promise((resolve) => fs.writeFile(path.join(this.dir, 'cgroup.procs'), String(pid), () => resolve()));
  }

  members(): number[] {
    try {
      return fs
        .readFileSync(path.join(this.dir, 'cgroup.procs'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map(Number)
        .filter((pid) => isLive(pid));
    } catch {
      return [];
    }
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

class MarkedProcesses implements TicketProcesses {
  constructor(readonly id: string) {}

  attach(): Promise<void> {
    // The marker is in the command's environment from its start.
    return Promise.resolve();
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

export class ProcessTracking {
  private constructor(
    /** The directory under which tickets' cgroups are made, or null: markers only. */
    readonly cgroupBase: string | null,
  ) {}

  /** Uses cgroups when a cgroup v2 group can be made under the server's own; else markers. */
  static detect(onFallback: (why: string) => void): ProcessTracking {
    const mount = cgroup2Mount();
    const own = ownCgroup();
    if (mount === undefined || own === undefined) {
      onFallback('no cgroup v2 hierarchy is mounted');
      return new ProcessTracking(null);
    }
    const base = path.join(mount, own, 'llmass-tickets');
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

  static newId(): string {
    return crypto.randomBytes(12).toString('hex');
  }

  /** The tracking of a ticket, new (create) or found again after a restart. */
  forTicket(id: string, create: boolean): TicketProcesses {
    if (this.cgroupBase === null) return new MarkedProcesses(id);
    const dir = path.join(this.cgroupBase, id);
    try {
      if (create) fs.mkdirSync(dir);
      else if (!fs.existsSync(dir)) return new MarkedProcesses(id);
    } catch {
      // No cgroup for this one (a limit on cgroups, a full table): the marker still tracks it.
      return new MarkedProcesses(id);
    }
    return new CgroupProcesses(id, dir);
  }

  /** Removes the cgroups of tickets whose processes have all ended. */
  sweep(): void {
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
