// Per-ticket limits through cgroups: pids.max (COMMAND_MAX_PROCESSES) and a memory limit
// (COMMAND_MAX_MEMORY, for all of the ticket's processes together), where the host lets the
// server make groups of those controllers. Here that is the cgroup v1 `pids` and `memory`
// hierarchies of a hybrid host (cgroup v2 delegates neither to the server on such a host: the
// start-up log says which hold). Each ticket's first process is put in its groups before its
// command runs, as it is into its tracking group; a ticket the kernel ended for memory is seen
// in memory.oom_control (oom_kill) and its view says `reason: "oom"`.
import fs from 'node:fs';
import path from 'node:path';
import { errorCode } from '../storage/safeFiles.js';
import { attachAll, type GroupJoin } from './groupJoins.js';
import type { TicketProcesses } from './ticketProcesses.js';

/**
 * Makes a ticket's group; one that exists already is its own (the id is the ticket's): a shell
 * started ahead and found unusable is ended while the ticket's new shell starts, and its group,
 * not yet empty, is taken over rather than given up for the weaker marker.
 */
export function makeGroup(dir: string): void {
  try {
    fs.mkdirSync(dir);
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw error;
  }
}

type Controller = 'pids' | 'memory';

/** Where the server's own group is in the v1 hierarchy of `controller`, mounted where. */
function v1Group(controller: Controller): string | undefined {
  let mount: string | undefined;
  let own: string | undefined;
  try {
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const [before, after] = line.split(' - ');
      const [fstype, , options] = (after ?? '').split(' ');
      if (fstype === 'cgroup' && (options ?? '').split(',').includes(controller)) mount = before?.split(' ')[4];
    }
    const entry = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((item) => item.split(':')[1]?.split(',').includes(controller));
    own = entry?.split(':')[2];
  } catch {
    return undefined;
  }
  return mount === undefined || own === undefined ? undefined : path.join(mount, own);
}

const CONTROLLERS = ['pids', 'memory'] as const;

/** Where the tickets' groups of `controller` go for a server of `scope`, if the host has its v1 hierarchy. */
function limitBase(controller: Controller, scope: string): string | undefined {
  const own = v1Group(controller);
  return own === undefined ? undefined : path.join(own, 'llmass-tickets', scope);
}

/** The groups of one ticket: what its first process joins, and what the kernel did to it there. */
class LimitGroups {
  readonly joins: readonly GroupJoin[];

  constructor(private readonly dirs: ReadonlyMap<Controller, string>) {
    this.joins = [...dirs].map(([controller, dir]) => ({ procs: path.join(dir, 'cgroup.procs'), what: `${controller} group` }));
  }

  /** Whether the kernel killed a process of the ticket for want of memory. */
  oomKilled(): boolean {
    const dir = this.dirs.get('memory');
    if (dir === undefined) return false;
    try {
      const kills = /^oom_kill (\d+)$/m.exec(fs.readFileSync(path.join(dir, 'memory.oom_control'), 'utf8'))?.[1];
      return Number(kills ?? 0) > 0;
    } catch {
      return false;
    }
  }

  release(): void {
    for (const dir of this.dirs.values()) {
      try {
        fs.rmdirSync(dir);
      } catch {
        // processes left in the background: the sweep takes it later
      }
    }
  }
}

export class TicketLimits {
  private constructor(
    /** Each controller's directory for this server's tickets. */
    private readonly bases: ReadonlyMap<Controller, string>,
    private readonly values: { readonly maxProcesses: number; readonly maxMemoryBytes: number },
  ) {}

  /** The controllers whose groups can be made, and for the rest why not. */
  static detect(scope: string, values: { readonly maxProcesses: number; readonly maxMemoryBytes: number }): { limits: TicketLimits; missing: string[] } {
    const bases = new Map<Controller, string>();
    const missing: string[] = [];
    for (const controller of CONTROLLERS) {
      const base = limitBase(controller, scope);
      if (base === undefined) {
        missing.push(`${controller}: no cgroup v1 ${controller} hierarchy (per-ticket limits through cgroup v2 controllers are not implemented)`);
        continue;
      }
      try {
        fs.mkdirSync(base, { recursive: true });
        bases.set(controller, base);
      } catch (error) {
        missing.push(`${controller}: ${base} cannot be made (${errorCode(error)})`);
      }
    }
    return { limits: new TicketLimits(bases, values), missing };
  }

  /** Every directory under which a server of `scope` would make its tickets' limit groups (made or not). */
  static basesFor(scope: string): string[] {
    return CONTROLLERS.map((controller) => limitBase(controller, scope)).filter((base) => base !== undefined);
  }

  /** The controllers in force, for the start-up log. */
  get controllers(): string[] {
    return [...this.bases.keys()];
  }

  /** The ticket's groups, made with their limits set. A group that cannot be made is left out. */
  forTicket(id: string): LimitGroups {
    const dirs = new Map<Controller, string>();
    for (const [controller, base] of this.bases) {
      const dir = path.join(base, id);
      try {
        makeGroup(dir);
        if (controller === 'pids') fs.writeFileSync(path.join(dir, 'pids.max'), String(this.values.maxProcesses));
        else fs.writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(this.values.maxMemoryBytes));
        dirs.set(controller, dir);
      } catch {
        try {
          fs.rmdirSync(dir);
        } catch {
          // never made
        }
      }
    }
    return new LimitGroups(dirs);
  }

  /** Removes the groups of tickets whose processes have all ended (and, at shutdown, the bases if empty). */
  sweep(closing = false): void {
    for (const base of this.bases.values()) {
      let names: string[] = [];
      try {
        names = fs.readdirSync(base).filter((name) => /^[0-9a-f]{24}$/.test(name));
      } catch {
        continue;
      }
      for (const name of names) {
        try {
          fs.rmdirSync(path.join(base, name));
        } catch {
          // still has processes
        }
      }
      if (closing) {
        try {
          fs.rmdirSync(base);
        } catch {
          // a leftover still runs in it
        }
      }
    }
  }
}

/** A ticket's tracking with its limit groups: attached, released together; and what the kernel did. */
export function withLimits(processes: TicketProcesses, groups: LimitGroups): TicketProcesses & { oomKilled(): boolean } {
  // The limit groups first, then the tracking group.
  const joins = [...groups.joins, ...processes.joins];
  return {
    id: processes.id,
    kind: processes.kind,
    attach: (pid) => attachAll(joins, pid),
    joins,
    members: () => processes.members(),
    signal: (signal) => processes.signal(signal),
    release: () => {
      processes.release();
      groups.release();
    },
    oomKilled: () => groups.oomKilled(),
  };
}
