// The scheduler: between the handlers and the parts that do the work. It takes submissions
// (replays.ts spots replays, queue.ts keeps order and limits), starts them when there is room
// (runningTickets.ts runs and finishes them), cancels, shuts down, and answers what a ticket is now,
// from memory while it is active and from disk after. It knows nothing of HTTP.
import type { AuditLog } from '../logging/audit.js';
import type { Config } from '../config/config.js';
import { Dedup } from './replays.js';
import { replayed, type Admission, type CancelResult, type SubmitResult } from './admission.js';
import { TerminalAccess } from './terminalAccess.js';

import { ticketState } from './ticketState.js';
import { SchedulerUnavailable, storageError, StorageUnavailable } from './unavailable.js';
import { freeBytes } from '../storage/safeFiles.js';
import { Finisher, ticketKey } from './finisher.js';
import type { OutputPlan } from '../protocol/outputParts.js';
import type { QueueStanding, TicketState } from '../protocol/ticketState.js';
import type { FinishedTicket, QueuedTicket, TicketRequest } from '../protocol/types.js';
import { TicketQueue, type Waiting } from './queue.js';
import { endedBeforeStart } from './endings.js';
import type { Redactor } from '../logging/redact.js';
import type { CommandUser } from '../running/commandUser.js';
import type { ProcessTracking } from '../running/processTracking.js';
import { RunningTickets } from './runningTickets.js';
import type { StartedShell } from '../running/shellProcess.js';
import type { ShellStates } from '../running/shellState.js';
import type { SessionIndex, TicketStore } from '../storage/ticketStore.js';
import { IdleWaiters, Waiters } from './waiters.js';

export interface SchedulerDeps {
  readonly config: Config;
  readonly tracking: ProcessTracking;
  readonly commandUser: CommandUser | null;
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
}

export class Scheduler {
  private readonly queue: TicketQueue;
  private readonly runs: RunningTickets;
  private readonly waiters = new Waiters();
  private readonly idle = new IdleWaiters();
  /** The terminals of running tty=1 tickets: writes, quiet, new output, screens. */
  readonly terminals: TerminalAccess;
  private readonly finisher: Finisher;
  private readonly dedup: Dedup;
  private accepting = true;

  constructor(private readonly deps: SchedulerDeps) {
    this.queue = new TicketQueue(deps.config.maxConcurrency, deps.config.maxQueue);
    this.dedup = new Dedup(deps.config.dedupWindow * 1000);
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
    this.runs = new RunningTickets({
      config: deps.config,
      tracking: deps.tracking,
      commandUser: deps.commandUser,
      store: deps.store,
      shells: deps.shells,
      redactor: deps.redactor,
      finisher: this.finisher,
      onError: deps.onError,
      onNeverStarted: (reason) => deps.onNeverStarted?.(reason),
      onSessionFree: (session) => {
        this.queue.release(session);
        this.dispatch();
        // Idle now: its next command's shell is started ahead, with the state this one left.
        if (this.accepting && !this.queue.isSessionBusy(session)) this.runs.prepareNext(session);
        this.idle.notify(session, this.queue.isSessionBusy(session));
      },
    });
    this.terminals = new TerminalAccess(this.runs, (session, ticket, ms, signal) => this.waitFor(session, ticket, ms, signal));
  }

  /** A shell started the way every command's is, for the self-check (selfCheck.ts). */
  startCheckShell(trackingId: string, command: string): StartedShell {
    return this.runs.startCheckShell(trackingId, command);
  }

  get waitingCount(): number {
    return this.queue.length;
  }

  get runningCount(): number {
    return this.runs.count;
  }

  /** Shells started ahead, waiting for their session's next command. */
  get readyShells(): number {
    return this.runs.readyShells;
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

  /** The session's working directory, as its last command left it. */
  cwdOf(session: string): string {
    return this.deps.shells.cwdOf(session);
  }

  /**
   * Hands out a ticket and returns once `<n>.ticket` is on disk. Without a session, a new one
   * is made. A replay of the same command and nonce within DEDUP_WINDOW returns the first ticket.
   * Throws StorageUnavailable, before any number is handed out, when the disk has no room.
   */
  async submit(session: string | undefined, request: TicketRequest, identity: string, client: string, key: string): Promise<SubmitResult> {
    this.assertAccepting();
    // Looked for before the session is opened too: a replay must not make a new session.
    const replay = this.dedup.find(session, identity, key);
    if (replay !== undefined) return replayed(replay);
    this.assertRoom();
    const name = session ?? this.deps.newSessionName();
    const index = await this.deps.store.open(name, true).catch((error: unknown) => {
      throw storageError(error);
    });
    if (index === undefined) throw new StorageUnavailable('failed', `session ${name} could not be opened`);
    this.assertAccepting();
    const admitted = this.admit(session, name, index, request, identity, key);
    if (admitted.kind === 'replay') return replayed(admitted.replay);
    const { entry, record, persisted, shellReady } = admitted;
    try {
      await persisted;
    } catch (error) {
      this.queue.remove(entry);
      this.deps.store.release(index, record.ticket);
      this.dedup.forget(name, record.ticket);
      throw storageError(error);
    }
    entry.persisted = true;
    // The audit line is written before the ticket can start or be answered: the record of
    // what was asked never lags behind what was done.
    this.deps.audit.record({
      event: 'accepted',
      client,
      key,
      session: name,
      ticket: record.ticket,
      command: record.input,
      timeout: request.timeout,
      idle_timeout: request.idle_timeout,
      nonce: request.nonce,
    });
    // A shell started ahead takes its command at once. Otherwise the ticket starts on the next
    // turn of the event loop, after this answer is written: spawning blocks for milliseconds,
    // which the submitter need not wait for.
    if (shellReady) this.dispatch();
    else setImmediate(() => this.dispatch());
    return { session: name, ticket: record.ticket };
  }

  /**
   * The numbering critical section. Synchronous, so that no other submission can come between
   * its steps: the replay check, the queue bound, the number, the queue entry, the start of the
   * record's write and the replay entry are decided together, and every number is handed out
   * to exactly one record in the order of the queue.
   */
  private admit(asked: string | undefined, name: string, index: SessionIndex, request: TicketRequest, identity: string, key: string): Admission {
    const raced = this.dedup.find(asked, identity, key);
    if (raced !== undefined) return { kind: 'replay', replay: raced };
    if (this.queue.full) throw new SchedulerUnavailable('queue-full', 5, this.deps.config.maxQueue);
    const ticket = this.deps.store.allocate(index);
    const tracking = this.runs.trackingIdFor(name, request.tty !== null);
    const record: QueuedTicket = {
      ticket,
      session: name,
      ...request,
      // The record keeps the command as sent but for the secret; the shell gets it whole.
      input: this.deps.redactor.text(request.input),
      status: 'queued',
      submitted_at: new Date().toISOString(),
      key,
      process_marker: tracking.id,
      started_at: null,
    };
    const entry = this.queue.add(record, request.input);
    const persisted = this.deps.store.write(record);
    this.dedup.remember(asked, name, ticket, identity, persisted, key);
    return { kind: 'admitted', entry, record, persisted, shellReady: tracking.shellReady };
  }

  private assertAccepting(): void {
    if (!this.accepting) throw new SchedulerUnavailable('shutting-down', 10);
  }

  /** The reserve: below MIN_FREE_BYTES no new ticket is taken, so running ones can finish. */
  private assertRoom(): void {
    const free = freeBytes(this.deps.config.sessionsDir);
    if (free !== undefined && free < this.deps.config.minFreeBytes) {
      throw new StorageUnavailable('full', `${free} bytes free, below MIN_FREE_BYTES (${this.deps.config.minFreeBytes})`);
    }
  }

  /**
   * The ticket as it stands: from memory while it is active, else from disk. Throws
   * DamagedRecord when its file on disk is damaged.
   */
  get(session: string, ticket: number, plan: OutputPlan): Promise<TicketState | undefined> {
    return ticketState({ runs: this.runs, queue: this.queue, store: this.deps.store, tracking: this.deps.tracking }, session, ticket, plan);
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
    for (const entry of this.queue.takeStartable(this.runs.count)) this.runs.start(entry);
  }

  /** Ends a waiting ticket without running it. Throws StorageUnavailable if its end cannot be stored: it then stays queued. */
  private async endWaiting(entry: Waiting, status: 'canceled' | 'interrupted', note: string): Promise<void> {
    const record = endedBeforeStart(entry.record, status, note);
    try {
      await this.deps.store.write(record);
    } catch (error) {
      throw storageError(error);
    }
    this.queue.remove(entry);
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
      await this.endWaiting(waiting, 'canceled', '[llmass: canceled before it started]\n');
      return 'canceled';
    }
    const stopped = await this.runs.stop(session, ticket, 'canceled');
    if (stopped === undefined) return undefined;
    return stopped === 'stopped' ? 'canceled' : stopped === 'storing' ? 'storing' : 'already-ended';
  }

  /**
   * Stops taking commands; waiting tickets end `interrupted` at once; running ones get up to
   * `graceSeconds` to finish, then their process groups are stopped and they end `interrupted`.
   * A final record that cannot be stored (a full disk) is given a few seconds, then left to the
   * next start's recovery.
   */
  async shutdown(graceSeconds: number): Promise<void> {
    this.accepting = false;
    const readyShellsEnded = this.runs.endReadyShells();
    for (const entry of this.queue.all()) {
      await this.endWaiting(entry, 'interrupted', '[llmass: interrupted: the server was stopped before this command started]\n').catch((error: unknown) =>
        this.deps.onError('could not mark a queued ticket interrupted; the next start will', error),
      );
    }
    await this.runs.stopAll(graceSeconds * 1000);
    await Promise.all([readyShellsEnded, this.runs.dropPreparedFiles()]);
  }
}
