// Which shell a ticket starts in. A session's command without a terminal starts in a shell
// started ahead, in the spawner process (spawner.ts), off the event loop: the session's next
// shell is asked for once its last command's shell has exited and that command's answer has
// gone out (scheduler.ts), for the ticket waiting next or the one still to come; a ticket whose shell
// is still being started waits for it in the queue. The server forks a shell itself for a
// session's first command (it starts at once), a command on a terminal, the self-check, and
// when no shell was started ahead (one idle for long, or the spawner failed).
import type { Config } from '../config/config.js';
import { ShellLauncher } from '../running/shellLauncher.js';
import { ProcessTracking } from '../running/processTracking.js';
import type { StartedShell } from '../running/shellProcess.js';
import { WarmShells, type ReadyShell } from '../running/shellsAhead.js';
import type { CommandUser } from '../running/commandUser.js';
import type { ShellStates } from '../running/shellState.js';
import type { TicketStore } from '../storage/ticketStore.js';
import type { Waiting } from './queue.js';

export interface NextShellsDeps {
  readonly config: Config;
  readonly tracking: ProcessTracking;
  readonly shells: ShellStates;
  readonly store: TicketStore;
  /** Who the self-check runs as: the users of keys without user=. */
  readonly commandUser: CommandUser | null;
  /** A shell a waiting ticket was held for has arrived (or failed to): it may start now. */
  readonly onShellArrived: (session: string) => void;
  readonly onError: (message: string, error: unknown) => void;
}

export class NextShells {
  readonly warm: WarmShells; // its counts are in /metrics
  private readonly launcher: ShellLauncher;

  constructor(private readonly deps: NextShellsDeps) {
    this.launcher = new ShellLauncher(deps.config.commandShell, deps.tracking, deps.shells.usesPrelude);
    this.warm = new WarmShells({
      start: (session, id) => this.launcher.startAhead(this.deps.shells.launch(session), id),
      onArrived: deps.onShellArrived,
      onError: deps.onError,
    });
  }

  /** The spawner process (for the tests' and operators' view of it). */
  get spawner(): { readonly pid: number | undefined; readonly starts: number } {
    return this.launcher.spawnerProcess;
  }

  /**
   * The tracking id for a ticket about to be queued in `session`: its ready shell's, when it has
   * one to start in, else a new one.
   */
  trackingIdFor(session: string, onTerminal = false): { readonly id: string; readonly shellReady: boolean } {
    // A shell started ahead has no terminal: a tty=1 ticket starts its own.
    const claimed = onTerminal ? undefined : this.warm.claim(session);
    return claimed === undefined ? { id: ProcessTracking.newId(), shellReady: false } : { id: claimed, shellReady: true };
  }

  /** Whether a ticket that could start now waits for the shell it claimed, still being started. */
  holdForShell(entry: Waiting): boolean {
    return this.warm.awaiting(entry.record.session, entry.record.process_marker);
  }

  /** Starts the shell of the session's waiting ticket, now that the session's last command's shell has exited. */
  prepareFor(entry: Waiting): void {
    const { session, process_marker: id, tty } = entry.record;
    if (tty === null && id !== null && this.deps.shells.usesPrelude) this.warm.prepare(session, id);
  }

  /** The shell a ticket starts in: its shell started ahead, or (a terminal, or none could be) a new one forked here. */
  shellFor(entry: Waiting, trackingId: string): ReadyShell {
    const { session, tty } = entry.record;
    return (tty === null ? this.warm.take(session, trackingId) : undefined) ?? this.launcher.start(this.deps.shells.launch(session), trackingId, entry.command, tty);
  }

  /**
   * The session's last command's shell has exited and its answer has gone out (its groups and
   * the spawner's request, about 0.9 ms, would have held that back): the next shell, with the
   * state it left, for the ticket waiting next (`waiting`) or the one still to come. Called
   * before the session is free: nothing else runs in it meanwhile.
   */
  prepareAfterExit(session: string, waiting: Waiting | undefined): void {
    if (waiting === undefined) this.prepareShell(session);
    else if (waiting.record.status === 'queued') this.prepareFor(waiting);
  }

  /** The session's last command's shell has exited, with its state kept: its next shell is started ahead. */
  prepareShell(session: string): void {
    if (this.deps.shells.usesPrelude) this.warm.prepare(session);
  }

  /** The session is idle: its next shell (if not yet), and the temp files of its next two records. */
  prepareNext(session: string): void {
    this.prepareShell(session);
    this.deps.store.prepareNextTicket(session);
  }

  /**
   * A shell as a session's first command gets, tracked under `trackingId`, for the self-check
   * (selfCheck.ts): the same path as every command, through setpriv and the prelude.
   */
  startCheckShell(trackingId: string, command: string): StartedShell {
    return this.launcher.start(this.deps.shells.firstLaunch(this.deps.commandUser), trackingId, command).shell;
  }

  /** Ends the shells started ahead and the spawner, and starts no more (shutdown); resolves once they are gone. */
  async close(): Promise<void> {
    await this.warm.closeAll();
    await this.launcher.close();
  }
}
