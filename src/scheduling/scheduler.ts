// The scheduler: between the handlers and the parts that do the work. It takes submissions
// (intake.ts; replays.ts spots replays, queue.ts keeps order and limits, approvals.ts holds
// the pending), starts them when there is room
// (runningTickets.ts runs and finishes them), cancels, shuts down, and answers what a ticket is now,
// from memory while it is active and from disk after. It knows nothing of HTTP.
import type { AuditLog } from '../logging/audit.js';
import type { Config } from '../config/config.js';
import { Dedup } from './replays.js';
import type { Asker, CancelResult, SubmitResult } from './admission.js';
import { Intake } from './intake.js';
import { TerminalAccess } from './terminalAccess.js';
import { ticketState } from './ticketState.js';
import { storageError } from './unavailable.js';
import { Finisher, ticketKey } from './finisher.js';
import type { OutputPlan } from '../protocol/outputParts.js';
import type { QueueStanding, TicketState } from '../protocol/ticketState.js';
import { isFinished, type FinishedTicket, type QueuedTicket, type TicketRequest } from '../protocol/types.js';
import { Approvals, type DecidedBy, type Decision, type DecisionResult } from './approvals.js';
import { Leftovers } from './leftovers.js';
import { TicketQueue, type Waiting } from './queue.js';
import { endedBeforeStart } from './endings.js';
import type { Redactor } from '../logging/redact.js';
import type { CommandUser } from '../running/commandUser.js';
import type { CommandUsers } from '../running/commandUsers.js';
import type { SessionOwners } from '../storage/sessionOwners.js';
import type { ProcessTracking } from '../running/processTracking.js';
import { RunningTickets } from './runningTickets.js';
import { NextShells } from './nextShells.js';
import type { ShellStates } from '../running/shellState.js';
import type { TicketStore } from '../storage/ticketStore.js';
import { IdleWaiters, Waiters } from './waiters.js';

export interface SchedulerDeps {
  readonly config: Config;
  readonly tracking: ProcessTracking;
  /** Who commands run as: each session's owner's user= (owners), or COMMAND_USER. */
  readonly users: CommandUsers;
  readonly owners: SessionOwners;
  readonly store: TicketStore;
  readonly shells: ShellStates;
  readonly audit: AuditLog;
  readonly redactor: Redactor;
  readonly newSessionName: () => string;
  readonly onError: (message: string, error: unknown) => void;
  /** Milliseconds between attempts to store a final record on a full disk. */
  readonly retryMs?: number;
  /** Every ticket's end, once stored (metrics). */
  readonly onTicketEnded?: (record: FinishedTicket) => void;
  /** A ticket ended `error` because its command never started. */
  readonly onNeverStarted?: (reason: string) => void;
  /** A pending ticket is on disk and waits for a person (the approval webhook). */
  readonly onPending?: (record: QueuedTicket) => void;
  /** A finished ticket's record was rewritten (its leftovers ended): kept answers are stale. */
  readonly onRecordChanged?: () => void;
}

export class Scheduler {
  private readonly queue: TicketQueue;
  private readonly runs: RunningTickets;
  /** The shells tickets start in (started ahead in the spawner process), and the self-check's. */
  readonly next: NextShells;
  private readonly waiters = new Waiters();
  private readonly idle = new IdleWaiters();
  /** The terminals of running tty=1 tickets: writes, quiet, new output, screens. */
  readonly terminals: TerminalAccess;
  private readonly finisher: Finisher;
  private readonly dedup: Dedup;
  private readonly approvals: Approvals;
  private readonly leftovers: Leftovers;
  private readonly intake: Intake;
  private accepting = true;

  constructor(private readonly deps: SchedulerDeps) {
    this.queue = new TicketQueue(deps.config.maxConcurrency, deps.config.maxQueue);
    this.dedup = new Dedup(deps.config.dedupWindow * 1000);
    this.leftovers = new Leftovers({
      maxProcesses: deps.config.commandMaxProcesses,
      store: deps.store,
      audit: deps.audit,
      onError: deps.onError,
      onRecordChanged: () => deps.onRecordChanged?.(),
    });
    this.finisher = new Finisher({
      store: deps.store,
      audit: deps.audit,
      waiters: this.waiters,
      retryMs: deps.retryMs ?? 1000,
      onError: deps.onError,
      onFinished: (record) => {
        this.dedup.finished(record.session, record.ticket);
        deps.onTicketEnded?.(record);
      },
    });
    this.next = new NextShells({
      config: deps.config,
      tracking: deps.tracking,
      shells: deps.shells,
      store: deps.store,
      commandUser: deps.users.fallback,
      onShellArrived: () => this.dispatch(),
      onError: deps.onError,
    });
    this.runs = new RunningTickets({
      config: deps.config,
      next: this.next,
      store: deps.store,
      shells: deps.shells,
      redactor: deps.redactor,
      finisher: this.finisher,
      leftovers: this.leftovers,
      userOf: (session) => this.userOf(session)?.name ?? '',
      onError: deps.onError,
      onNeverStarted: (reason) => deps.onNeverStarted?.(reason),
      // After this command's answer (written in this turn of the loop; nextShells.ts says why).
      onShellExited: (session) => setImmediate(() => this.accepting && this.next.prepareAfterExit(session, this.queue.firstOf(session))),
      onSessionFree: (session) => {
        this.queue.release(session);
        this.dispatch();
        // Idle now: what its next command needs is made ready, with the state this one left.
        if (this.accepting && !this.queue.isSessionBusy(session)) this.next.prepareNext(session);
        this.idle.notify(session, this.queue.isSessionBusy(session));
      },
    });
    this.approvals = new Approvals({
      queue: this.queue,
      store: deps.store,
      audit: deps.audit,
      timeoutMs: deps.config.approvalTimeout * 1000,
      endWaiting: (entry, record) => this.endWaiting(entry, record),
      dispatch: () => this.dispatch(),
      onError: deps.onError,
    });
    this.intake = new Intake({
      ...deps,
      queue: this.queue,
      dedup: this.dedup,
      next: this.next,
      approvals: this.approvals,
      dispatch: () => this.dispatch(),
      accepting: () => this.accepting,
    });
    this.terminals = new TerminalAccess(this.runs, (session, ticket, ms, signal) => this.waitFor(session, ticket, ms, signal));
  }

  get waitingCount(): number {
    return this.queue.length;
  }

  get runningCount(): number {
    return this.runs.count;
  }

  isSessionBusy(session: string): boolean {
    return this.queue.isSessionBusy(session);
  }

  /**
   * Resolves true once the session has no ticket running or queued (at once if it has none), or
   * false after `ms` or when `signal` aborts: what file transfers wait for (they go behind the
   * session's commands).
   */
  whenIdle(session: string, ms: number, signal?: AbortSignal): Promise<boolean> {
    if (!this.queue.isSessionBusy(session)) return Promise.resolve(true);
    return this.idle.wait(session, ms, signal);
  }

  /**
   * Who the session's commands (and file transfers) run as: the user its owner had when it made
   * it. Throws when that user can no longer run commands (removed from the host).
   */
  userOf(session: string): CommandUser | null {
    const owner = this.deps.owners.known(session);
    if (owner === undefined) throw new Error(`the owner of session ${session} has not been read`);
    return this.deps.users.resolve(owner.user);
  }

  /** The session's working directory, as its last command left it. */
  cwdOf(session: string): string {
    return this.deps.shells.cwdOf(session);
  }

  /**
   * Hands out a ticket and returns once `<n>.ticket` is on disk (intake.ts). Throws
   * StorageUnavailable, before any number is handed out, when the disk has no room.
   */
  submit(session: string | undefined, request: TicketRequest, identity: string, client: string, asker: Asker): Promise<SubmitResult> {
    return this.intake.submit(session, request, identity, client, asker);
  }

  /** A person's decision on a pending ticket (approvals.ts). Throws StorageUnavailable when it cannot be stored. */
  async decide(session: string, ticket: number, decision: Decision, by: DecidedBy, client: string): Promise<DecisionResult> {
    const stored = this.queue.find(session, ticket) === undefined ? await this.deps.store.read(session, ticket, { kind: 'window', offset: 0, limit: 1 }) : undefined;
    return this.approvals.decide(session, ticket, decision, by, client, stored?.meta);
  }

  /**
   * The ticket as it stands: from memory while it is active, else from disk. Throws
   * DamagedRecord when its file on disk is damaged.
   */
  get(session: string, ticket: number, plan: OutputPlan): Promise<TicketState | undefined> {
    return ticketState({ runs: this.runs, queue: this.queue, store: this.deps.store, tracking: this.deps.tracking }, session, ticket, plan);
  }

  /** The session's tickets pending a person's approval, oldest first. */
  pendingOf(session: string): QueuedTicket[] {
    return this.queue.all().filter((entry) => entry.record.session === session && entry.record.status === 'pending').map((entry) => entry.record);
  }

  /** Where a queued ticket stands, and what holds it; undefined when it is not queued. */
  standing(session: string, ticket: number): QueueStanding | undefined {
    return this.queue.standing(session, ticket);
  }

  /** Resolves with the finished record, or undefined after `ms` or when `signal` aborts. */
  waitFor(session: string, ticket: number, ms: number, signal?: AbortSignal): Promise<FinishedTicket | undefined> {
    const key = ticketKey(session, ticket);
    if (!this.runs.has(session, ticket) && this.queue.find(session, ticket) === undefined) return Promise.resolve(undefined);
    return this.waiters.wait(key, ms, signal);
  }

  /** Starts waiting tickets while there is room, oldest first, one per session at a time. */
  private dispatch(): void {
    if (!this.accepting) return;
    // A ticket waits for its shell, being started for it in the spawner process (nextShells.ts).
    const held = (entry: Waiting): boolean => this.next.holdForShell(entry);
    for (const entry of this.queue.takeStartable(this.runs.count, held)) this.runs.start(entry);
  }

  /** Ends a waiting ticket with `record`, without running it. Throws StorageUnavailable if its end cannot be stored: it then stays waiting. */
  private async endWaiting(entry: Waiting, record: FinishedTicket): Promise<void> {
    try {
      await this.deps.store.write(record);
    } catch (error) {
      throw storageError(error);
    }
    this.queue.remove(entry);
    this.next.warm.unclaim(entry.record.session, entry.record.process_marker);
    this.finisher.announce(record);
    this.dispatch();
    this.idle.notify(entry.record.session, this.queue.isSessionBusy(entry.record.session));
  }

  /**
   * Cancels a waiting ticket (it never starts) or stops a running one's process group and
   * returns once it has ended. Undefined when there is no such active ticket: then it either
   * finished before (the caller reads it) or never was.
   */
  async cancel(session: string, ticket: number): Promise<CancelResult | undefined> {
    const waiting = this.queue.find(session, ticket);
    if (waiting !== undefined) {
      await this.endWaiting(waiting, endedBeforeStart(waiting.record, 'canceled', '[llmass: canceled before it started]\n'));
      return 'canceled';
    }
    const stopped = await this.runs.stop(session, ticket, 'canceled');
    if (stopped === undefined) return this.endLeftovers(session, ticket);
    return stopped === 'stopped' ? 'canceled' : stopped === 'storing' ? 'storing' : { kind: 'already-ended', backgroundEnded: 0 };
  }

  /**
   * A finished ticket's leftovers (processes it left running, in its cgroup or carrying its
   * marker) are ended: KILLed, and counted once they are seen gone. Undefined when the ticket
   * is not finished on disk (it never was, or its record is being stored).
   */
  private async endLeftovers(session: string, ticket: number): Promise<CancelResult | undefined> {
    const stored = await this.deps.store.read(session, ticket, { kind: 'window', offset: 0, limit: 1 }).catch(() => undefined);
    const meta = stored?.meta;
    if (meta === undefined || !isFinished(meta)) return undefined;
    const processes = meta.process_marker === null ? undefined : this.deps.tracking.forTicket(meta.process_marker, false);
    const ended = processes === undefined ? 0 : await this.leftovers.cancel(session, ticket, processes);
    return { kind: 'already-ended', backgroundEnded: ended };
  }

  /**
   * Stops taking commands; waiting tickets end `interrupted` at once; running ones get up to
   * `graceSeconds` to finish, then their process groups are stopped and they end `interrupted`.
   * A final record that cannot be stored (a full disk) is given a few seconds, then left to the
   * next start's recovery.
   */
  async shutdown(graceSeconds: number): Promise<void> {
    this.accepting = false;
    this.approvals.close();
    const readyShellsEnded = this.next.close();
    for (const entry of this.queue.all()) {
      await this.endWaiting(entry, endedBeforeStart(entry.record, 'interrupted', '[llmass: interrupted: the server was stopped before this command started]\n')).catch((error: unknown) =>
        this.deps.onError('could not mark a queued ticket interrupted; the next start will', error),
      );
    }
    await this.runs.stopAll(graceSeconds * 1000);
    await Promise.all([readyShellsEnded, this.runs.dropPreparedFiles()]);
  }
}
