// Warm shells: a session's next shell, started ahead while the session is idle. Starting bash
// (fork, exec, the prelude) is most of a short command's turnaround; a shell started as soon as
// the session's last command ended, with the state that command left, waits in the prelude for
// its go (shellProcess.ts), which carries the command. It is tracked from its start like any other,
// under the id its ticket is given at submission (claim). Kept for a few sessions, most recent
// first, and for a while: a session idle longer gets a fresh shell when it is used again.
import { isDirectory } from '../storage/safeFiles.js';
import { signalGroup } from './processGroups.js';
import type { TicketProcesses } from './processTracking.js';
import type { StartedShell } from './shellProcess.js';
import { raceTimeout } from './timeLimit.js';

/** How many sessions keep a shell ready at most. */
export const MAX_WARM_SHELLS = 16;
/** How long a ready shell waits for a command before it is ended. */
export const WARM_SHELL_IDLE_MS = 10 * 60_000;
/** How long shutdown waits for the ready shells it ended to exit. */
const CLOSE_WAIT_MS = 3000;

/** A shell started ahead, and what it was started with. */
export interface ReadyShell {
  readonly shell: StartedShell;
  /** Its working directory: checked again when it is used. */
  readonly cwd: string;
  /** Said before the command's output (the saved directory was gone when it started). */
  readonly note: string | undefined;
}

/** A shell being started ahead: its tracking from now, and the shell once it runs. */
export interface ShellAhead {
  readonly processes: TicketProcesses;
  /** Rejects if it could not be started; its tracking is then still to be released. */
  readonly ready: Promise<ReadyShell>;
}

interface Warm {
  readonly processes: TicketProcesses;
  /** Undefined while it is being started (in the spawner process). */
  made: ReadyShell | undefined;
  claimed: boolean;
  /** When it is no longer the session's: whether its tracking goes with it (see forget). */
  ending: 'release' | 'keep-tracking' | undefined;
  readonly timer: NodeJS.Timeout;
  readonly onExit: () => void;
  /** Settles once it has arrived (or failed) and, if it was given up meanwhile, ended. */
  arrival: Promise<void>;
}

export interface WarmShellsOptions {
  /** Starts the session's next shell, tracked under `id` (a waiting ticket's), or a new id. */
  readonly start: (session: string, id?: string) => ShellAhead;
  /** The session's claimed shell has arrived, or failed to start: its ticket may start now. */
  readonly onArrived: (session: string) => void;
  readonly onError: (message: string, error: unknown) => void;
  readonly max?: number;
  readonly idleMs?: number;
}

export class WarmShells {
  private readonly ready = new Map<string, Warm>();
  private closed = false;
  /** Commands that started in a shell started ahead, and ready shells found unusable when taken. */
  readonly counts = { used: 0, unusable: 0 };

  constructor(private readonly options: WarmShellsOptions) {}

  /** How many shells wait (or are being started). */
  get size(): number {
    return this.ready.size;
  }

  /**
   * The tracking id of the session's ready shell, for the ticket about to be queued: handed
   * out once, so a second ticket submitted before the first starts gets a shell of its own.
   * A claimed shell waits for its ticket, however long that is held (an approval).
   */
  claim(session: string): string | undefined {
    const warm = this.ready.get(session);
    if (warm === undefined || warm.claimed) return undefined;
    warm.claimed = true;
    clearTimeout(warm.timer);
    return warm.processes.id;
  }

  /** Whether the ticket tracked under `id` waits for its claimed shell, still being started. */
  awaiting(session: string, id: string | null): boolean {
    const warm = this.ready.get(session);
    return warm !== undefined && warm.made === undefined && warm.processes.id === id;
  }

  /**
   * The session's ready shell, if it was claimed under `id`, has arrived, still waits, and its
   * directory is still there; undefined (and the shell ended) otherwise. The caller then owns it.
   */
  take(session: string, id: string): ReadyShell | undefined {
    const warm = this.ready.get(session);
    if (warm === undefined) return undefined;
    // Its ticket's new shell is tracked under the same id, in the same groups: they stay.
    const ending = warm.processes.id === id ? 'keep-tracking' : 'release';
    this.forget(session, warm, ending);
    if (warm.made === undefined) {
      this.counts.unusable += 1;
      return undefined;
    }
    const { child, processes } = warm.made.shell;
    // Dead but not yet reaped by us (its exit event still on its way): its cgroup, which lists no
    // zombies and which the server sees whatever /proc hides, no longer holds it. Only once it
    // was put there: a command that comes right after the shell arrived finds it still being
    // moved in, and its go waits for that.
    const gone = processes.kind === 'cgroup' && warm.made.shell.tracking.done && child.pid !== undefined && !processes.members().includes(child.pid);
    if (ending === 'release' || child.exitCode !== null || child.signalCode !== null || gone || !isDirectory(warm.made.cwd)) {
      this.counts.unusable += 1;
      void endShell(warm.made.shell, ending);
      return undefined;
    }
    this.counts.used += 1;
    return warm.made;
  }

  /**
   * Starts a shell for the session's next command, unless it has one (or the server stops);
   * with `claimedBy`, for the waiting ticket tracked under that id, in place of any other.
   */
  prepare(session: string, claimedBy?: string): void {
    if (this.closed) return;
    const existing = this.ready.get(session);
    if (existing !== undefined && (claimedBy === undefined || existing.processes.id === claimedBy)) return;
    if (existing !== undefined) this.drop(session);
    const max = this.options.max ?? MAX_WARM_SHELLS;
    // The least recently prepared go first: the sessions in use now keep theirs; a claimed one
    // waits for its ticket.
    for (const [oldest, warm] of this.ready) {
      if (this.ready.size < max) break;
      if (!warm.claimed) this.drop(oldest);
    }
    let ahead: ShellAhead;
    try {
      ahead = this.options.start(session, claimedBy);
    } catch (error) {
      this.options.onError('starting a shell ahead of the next command failed; it starts when the command comes', error);
      return;
    }
    const warm: Warm = {
      processes: ahead.processes,
      made: undefined,
      claimed: claimedBy !== undefined,
      ending: undefined,
      timer: setTimeout(() => this.drop(session), this.options.idleMs ?? WARM_SHELL_IDLE_MS),
      // Ended from outside (killed): the command will start its own.
      onExit: () => {
        if (this.ready.get(session) !== warm) return;
        // Claimed, its ticket starts a shell of its own under the same id and groups.
        this.forget(session, warm, warm.claimed ? 'keep-tracking' : 'release');
        if (warm.made !== undefined) void endShell(warm.made.shell, warm.ending);
      },
      arrival: Promise.resolve(),
    };
    warm.timer.unref();
    if (warm.claimed) clearTimeout(warm.timer);
    this.ready.set(session, warm);
    warm.arrival = ahead.ready.then(
      (made) => this.arrived(session, warm, made),
      (error: unknown) => this.failed(session, warm, error),
    );
  }

  /** The waiting ticket tracked under `id` ended before it started: the shell claimed for it goes. */
  unclaim(session: string, id: string | null): void {
    if (id !== null && this.ready.get(session)?.processes.id === id) this.drop(session);
  }

  /** Ends the session's ready shell, if it has one. */
  drop(session: string): void {
    const warm = this.ready.get(session);
    if (warm === undefined) return;
    this.forget(session, warm, 'release');
    if (warm.made !== undefined) void endShell(warm.made.shell);
  }

  /**
   * Ends every ready shell, and prepares no more (shutdown). Resolves once they have exited and
   * their tracking is released (their cgroups removed), or after a few seconds.
   */
  async closeAll(): Promise<void> {
    this.closed = true;
    const ended: Array<Promise<void>> = [];
    for (const [session, warm] of [...this.ready]) {
      this.forget(session, warm, 'release');
      ended.push(warm.made === undefined ? warm.arrival : endShell(warm.made.shell));
    }
    await raceTimeout(Promise.all(ended), CLOSE_WAIT_MS);
  }

  private async arrived(session: string, warm: Warm, made: ReadyShell): Promise<void> {
    if (this.ready.get(session) !== warm) {
      // Given up while it was being started: it never gets a command.
      await endShell(made.shell, warm.ending);
      return;
    }
    warm.made = made;
    made.shell.child.once('exit', warm.onExit);
    if (warm.claimed) this.options.onArrived(session);
  }

  private failed(session: string, warm: Warm, error: unknown): void {
    const current = this.ready.get(session) === warm;
    if (current) this.forget(session, warm, warm.claimed ? 'keep-tracking' : 'release');
    if (warm.ending === 'release') warm.processes.release();
    if (!current) return;
    this.options.onError('starting a shell ahead of the next command failed; it starts when the command comes', error);
    // Its ticket, held for it, starts a shell of its own (there its error is the shell's).
    if (warm.claimed) this.options.onArrived(session);
  }

  /** No longer the session's shell; `ending` says whether its tracking is released when it ends. */
  private forget(session: string, warm: Warm, ending: 'release' | 'keep-tracking'): void {
    this.ready.delete(session);
    warm.ending = ending;
    clearTimeout(warm.timer);
    warm.made?.shell.child.off('exit', warm.onExit);
  }
}

/**
 * Ends a shell that was never handed a command: without its go the prelude exits at once (the
 * end of fd 3), and KILL to its group makes sure. Its pipes are closed and (unless its ticket
 * keeps it) its tracking released once it has exited; the promise resolves then.
 */
export function endShell(shell: StartedShell, tracking: 'release' | 'keep-tracking' | undefined = 'release'): Promise<void> {
  const { child, pid } = shell;
  const cleanUp = (): void => {
    for (const stream of child.stdio) stream?.destroy();
    // Kept when the shell's ticket goes on in a new shell tracked under the same id: removing
    // its groups now would take them from under that shell.
    if (tracking === 'release') shell.processes.release();
  };
  if (child.exitCode !== null || child.signalCode !== null || pid === undefined) {
    cleanUp();
    return Promise.resolve();
  }
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      cleanUp();
      resolve();
    }),
  );
  child.stdio[3]?.destroy();
  signalGroup(pid, 'SIGKILL');
  return exited;
}
