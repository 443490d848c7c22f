// Warm shells: a session's next shell, started ahead while the session is idle. Starting bash
// (fork, exec, the prelude) is most of a short command's turnaround; a shell started as soon as
// the session's last command ended, with the state that command left, waits in the prelude for
// its go (shellProcess.ts), which carries the command. It is tracked from its start like any other,
// under the id its ticket is given at submission (claim). Kept for a few sessions, most recent
// first, and for a while: a session idle longer gets a fresh shell when it is used again.
import { isDirectory } from '../storage/safeFiles.js';
import { signalGroup } from './processGroups.js';
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

interface Warm extends ReadyShell {
  claimed: boolean;
  readonly timer: NodeJS.Timeout;
  readonly onExit: () => void;
}

export interface WarmShellsOptions {
  /** Starts the session's next shell, tracked under a new id. */
  readonly start: (session: string) => ReadyShell;
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

  /** How many shells wait. */
  get size(): number {
    return this.ready.size;
  }

  /**
   * The tracking id of the session's ready shell, for the ticket about to be queued: handed
   * out once, so a second ticket submitted before the first starts gets a shell of its own.
   */
  claim(session: string): string | undefined {
    const warm = this.ready.get(session);
    if (warm === undefined || warm.claimed) return undefined;
    warm.claimed = true;
    return warm.shell.processes.id;
  }

  /**
   * The session's ready shell, if it was claimed under `id`, still waits, and its directory is
   * still there; undefined (and the shell ended) otherwise. The caller then owns the shell.
   */
  take(session: string, id: string): ReadyShell | undefined {
    const warm = this.ready.get(session);
    if (warm === undefined) return undefined;
    this.forget(session, warm);
    const { child, processes } = warm.shell;
    // Dead but not yet reaped by us (its exit event still on its way): its cgroup, which lists no
    // zombies and which the server sees whatever /proc hides, no longer holds it. Only once it
    // was put there: a command that comes right after the last one ended (back to back) finds its
    // shell still being moved in, and its go waits for that.
    const gone = processes.kind === 'cgroup' && warm.shell.tracking.done && child.pid !== undefined && !processes.members().includes(child.pid);
    if (processes.id !== id || child.exitCode !== null || child.signalCode !== null || gone || !isDirectory(warm.cwd)) {
      this.counts.unusable += 1;
      // Its ticket's new shell is tracked under the same id, in the same groups: they stay.
      void endShell(warm.shell, processes.id === id ? 'keep-tracking' : 'release');
      return undefined;
    }
    this.counts.used += 1;
    return warm;
  }

  /** Starts a shell for the session's next command, unless it has one (or the server stops). */
  prepare(session: string): void {
    if (this.closed || this.ready.has(session)) return;
    const max = this.options.max ?? MAX_WARM_SHELLS;
    // The least recently prepared go first: the sessions in use now keep theirs.
    for (const [oldest] of this.ready) {
      if (this.ready.size < max) break;
      this.drop(oldest);
    }
    let made: ReadyShell;
    try {
      made = this.options.start(session);
    } catch (error) {
      this.options.onError('starting a shell ahead of the next command failed; it starts when the command comes', error);
      return;
    }
    if (made.shell.pid === undefined) {
      void endShell(made.shell);
      return;
    }
    const warm: Warm = {
      ...made,
      claimed: false,
      timer: setTimeout(() => this.drop(session), this.options.idleMs ?? WARM_SHELL_IDLE_MS),
      // Ended from outside (killed, or it failed to start): the command will start its own.
      onExit: () => {
        if (this.ready.get(session) !== warm) return;
        this.forget(session, warm);
        // Claimed, its ticket starts a shell of its own under the same id and groups.
        void endShell(warm.shell, warm.claimed ? 'keep-tracking' : 'release');
      },
    };
    warm.timer.unref();
    made.shell.child.once('exit', warm.onExit);
    this.ready.set(session, warm);
  }

  /** Ends the session's ready shell, if it has one. */
  drop(session: string): void {
    const warm = this.ready.get(session);
    if (warm === undefined) return;
    this.forget(session, warm);
    void endShell(warm.shell);
  }

  /**
   * Ends every ready shell, and prepares no more (shutdown). Resolves once they have exited and
   * their tracking is released (their cgroups removed), or after a few seconds.
   */
  async closeAll(): Promise<void> {
    this.closed = true;
    const ended: Array<Promise<void>> = [];
    for (const [session, warm] of [...this.ready]) {
      this.forget(session, warm);
      ended.push(endShell(warm.shell));
    }
    await raceTimeout(Promise.all(ended), CLOSE_WAIT_MS);
  }

  private forget(session: string, warm: Warm): void {
    this.ready.delete(session);
    clearTimeout(warm.timer);
    warm.shell.child.off('exit', warm.onExit);
  }
}

/**
 * Ends a shell that was never handed a command: without its go the prelude exits at once (the
 * end of fd 3), and KILL to its group makes sure. Its pipes are closed and (unless its ticket
 * keeps it) its tracking released once it has exited; the promise resolves then.
 */
export function endShell(shell: StartedShell, tracking: 'release' | 'keep-tracking' = 'release'): Promise<void> {
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
