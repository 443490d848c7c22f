// The scheduler: between the handlers and the runner. One FIFO per session (a session's
// tickets run one at a time, in ticket order), at most MAX_CONCURRENCY commands at once across
// sessions, a bound on waiting tickets, de-duplication of replayed submissions, cancel,
// long-poll waiters, and a graceful shutdown. It knows nothing of HTTP.
import type { AuditLog } from './audit.js';
import type { Config } from './config.js';
import { Dedup } from './dedup.js';
import { OutputSpool, type StoredOutput } from './output.js';
import type { FinalStatus, FinishedTicket, QueuedTicket, RunningTicket, TicketRecord, TicketRequest, TimeoutKind } from './protocol.js';
import { startCommand, type RunOutcome, type RunningCommand } from './runner.js';
import type { ShellStates } from './shellState.js';
import type { TicketStore } from './tickets.js';

export class SchedulerUnavailable extends Error {
  constructor(
    readonly reason: 'queue-full' | 'shutting-down',
    readonly retryAfterSeconds: number,
  ) {
    super(reason === 'queue-full' ? 'the queue is full' : 'the server is shutting down');
  }
}

export interface SubmitResult {
  readonly session: string;
  readonly ticket: number;
  readonly cached: boolean;
}

export interface CancelResult {
  readonly record: TicketRecord;
  /** False when the ticket had already finished: cancel changed nothing. */
  readonly changed: boolean;
}

interface Waiting {
  readonly record: QueuedTicket;
  /** False until `<n>.ticket` is on disk; the ticket may not start before. */
  persisted: boolean;
}

interface Running {
  readonly record: RunningTicket;
  readonly spool: OutputSpool;
  readonly command: RunningCommand;
  readonly finished: Promise<FinishedTicket>;
}

const key = (session: string, ticket: number): string => `${session}/${ticket}`;

export interface SchedulerDeps {
  readonly config: Config;
  readonly store: TicketStore;
  readonly shells: ShellStates;
  readonly audit: AuditLog;
  readonly newSessionName: () => string;
  readonly onError: (message: string, error: unknown) => void;
}

export class Scheduler {
  /** Every waiting ticket, all sessions, in the order their numbers were handed out. */
  private waiting: Waiting[] = [];
  private readonly running = new Map<string, Running>();
  private readonly busySessions = new Set<string>();
  private readonly waiters = new Map<string, Set<(record: FinishedTicket) => void>>();
  private readonly dedup: Dedup;
  private accepting = true;

  constructor(private readonly deps: SchedulerDeps) {
    this.dedup = new Dedup(deps.config.dedupWindow * 1000);
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  get runningCount(): number {
    return this.running.size;
  }

  isSessionBusy(session: string): boolean {
    return this.busySessions.has(session) || this.waiting.some((entry) => entry.record.session === session);
  }

  /**
   * Hands out a ticket and returns once `<n>.ticket` is on disk. Without a session, a new one
   * is made. A replay of the same command and nonce within DEDUP_WINDOW returns the first ticket.
   */
  async submit(session: string | undefined, request: TicketRequest, client: string): Promise<SubmitResult> {
    this.assertAccepting();
    const replay = this.dedup.find(session, request);
    if (replay !== undefined) {
      await replay.persisted;
      return { session: replay.session, ticket: replay.ticket, cached: true };
    }
    const name = session ?? this.deps.newSessionName();
    const index = await this.deps.store.open(name, true);
    if (index === undefined) throw new Error(`session ${name} could not be opened`);
    this.assertAccepting();

    // From here to the write, nothing awaits: the dedup check, the queue bound and the
    // number are decided together, so concurrent submissions cannot interleave.
    const raced = this.dedup.find(session, request);
    if (raced !== undefined) {
      await raced.persisted;
      return { session: raced.session, ticket: raced.ticket, cached: true };
    }
    if (this.waiting.length >= this.deps.config.maxQueue) throw new SchedulerUnavailable('queue-full', 5);
    const ticket = this.deps.store.allocate(index);
    const record: QueuedTicket = {
      ticket,
      session: name,
      ...request,
      status: 'queued',
      submitted_at: new Date().toISOString(),
      started_at: null,
    };
    const entry: Waiting = { record, persisted: false };
    this.waiting.push(entry);
    const persisted = this.deps.store.write(record);
    this.dedup.remember(session, name, ticket, request, persisted);
    try {
      await persisted;
    } catch (error) {
      this.waiting = this.waiting.filter((other) => other !== entry);
      throw error;
    }
    entry.persisted = true;
    // The audit line is written before the ticket can start or be answered: the record of
    // what was asked never lags behind what was done.
    this.deps.audit.record({
      event: 'accepted',
      client,
      session: name,
      ticket,
      command: request.input,
      timeout: request.timeout,
      idle_timeout: request.idle_timeout,
      nonce: request.nonce,
    });
    // Started on the next turn of the event loop, after this answer is written: spawning
    // blocks for milliseconds, which the submitter need not wait for.
    setImmediate(() => this.dispatch());
    return { session: name, ticket, cached: false };
  }

  private assertAccepting(): void {
    if (!this.accepting) throw new SchedulerUnavailable('shutting-down', 10);
  }

  /** The record as it stands, from memory while the ticket is active, else from disk. */
  async get(session: string, ticket: number): Promise<{ record: TicketRecord; live?: StoredOutput } | undefined> {
    const active = this.running.get(key(session, ticket));
    if (active !== undefined) return { record: active.record, live: active.spool.snapshot() };
    const waiting = this.waiting.find((entry) => entry.record.session === session && entry.record.ticket === ticket);
    if (waiting !== undefined) return { record: waiting.record };
    const record = await this.deps.store.read(session, ticket);
    return record === undefined ? undefined : { record };
  }

  /** How many tickets wait before this queued one can start (0 when it is next). */
  positionInQueue(session: string, ticket: number): number {
    const index = this.waiting.findIndex((entry) => entry.record.session === session && entry.record.ticket === ticket);
    return index === -1 ? 0 : index;
  }

  /** Resolves with the finished record, or undefined after `ms` or when `signal` aborts. */
  waitFor(session: string, ticket: number, ms: number, signal?: AbortSignal): Promise<FinishedTicket | undefined> {
    const k = key(session, ticket);
    const active = this.running.has(k) || this.waiting.some((entry) => entry.record.session === session && entry.record.ticket === ticket);
    if (!active || ms <= 0) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const set = this.waiters.get(k) ?? new Set();
      this.waiters.set(k, set);
      const done = (record: FinishedTicket | undefined): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        set.delete(wake);
        if (set.size === 0 && this.waiters.get(k) === set) this.waiters.delete(k);
        resolve(record);
      };
      const wake = (record: FinishedTicket): void => done(record);
      const onAbort = (): void => done(undefined);
      const timer = setTimeout(() => done(undefined), ms);
      set.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private wake(record: FinishedTicket): void {
    const set = this.waiters.get(key(record.session, record.ticket));
    if (set === undefined) return;
    for (const wake of [...set]) wake(record);
  }

  /** Starts waiting tickets while there is room, oldest first, one per session at a time. */
  private dispatch(): void {
    if (!this.accepting) return;
    const blocked = new Set(this.busySessions);
    for (let i = 0; i < this.waiting.length && this.running.size < this.deps.config.maxConcurrency; ) {
      const entry = this.waiting[i];
      if (entry === undefined) break;
      const session = entry.record.session;
      if (blocked.has(session) || !entry.persisted) {
        // An earlier ticket of this session is running or not yet on disk: later ones wait.
        blocked.add(session);
        i += 1;
        continue;
      }
      this.waiting.splice(i, 1);
      blocked.add(session);
      this.start(entry.record);
    }
  }

  private start(queued: QueuedTicket): void {
    const { session, ticket } = queued;
    const startedAt = new Date();
    this.busySessions.add(session);
    let spool: OutputSpool;
    let command: RunningCommand;
    try {
      spool = new OutputSpool(this.deps.store.sidePath(session, ticket, 'out'), this.deps.config.maxOutputBytes);
      const launch = this.deps.shells.launch(this.deps.store.sessionDir(session));
      command = startCommand({
        shell: this.deps.config.commandShell,
        input: queued.input,
        cwd: launch.cwd,
        env: launch.env,
        timeoutMs: queued.timeout * 1000,
        idleTimeoutMs: queued.idle_timeout === null ? null : queued.idle_timeout * 1000,
        spool,
      });
    } catch (error) {
      void this.finish(queued, startedAt, { kind: 'failed', message: `could not start the command: ${String(error)}` }, undefined);
      return;
    }
    if (command.pid === undefined) {
      void command.outcome.then((outcome) => this.finish(queued, startedAt, outcome, spool));
      return;
    }
    const record: RunningTicket = {
      ...queued,
      status: 'running',
      started_at: startedAt.toISOString(),
      process_group: command.pid,
      process_started: command.startedTicks,
    };
    const wrote = this.deps.store.write(record).catch((error: unknown) => this.deps.onError('writing a running ticket failed', error));
    const finished = command.outcome.then(async (outcome) => {
      await wrote;
      return this.finish(queued, startedAt, outcome, spool);
    });
    this.running.set(key(session, ticket), { record, spool, command, finished });
  }

  private async finish(queued: QueuedTicket, startedAt: Date, outcome: RunOutcome, spool: OutputSpool | undefined): Promise<FinishedTicket> {
    const { session, ticket } = queued;
    const finishedAt = new Date();
    const captured = spool?.snapshot();
    const status = statusOf(outcome);
    let output = captured?.stored.toString('utf8') ?? '';
    if (outcome.kind === 'failed') output += `[llmass: ${outcome.message}]\n`;
    if (status === 'interrupted') output += '\n[llmass: interrupted: the server was stopped while this command ran]\n';
    const record: FinishedTicket = {
      ...queued,
      status,
      started_at: startedAt.toISOString(),
      finished_at: finishedAt.toISOString(),
      duration_ms: finishedAt.getTime() - startedAt.getTime(),
      exit_code: outcome.kind === 'failed' ? null : outcome.exitCode,
      signal: outcome.kind === 'failed' ? null : outcome.signal,
      timeout_kind: timeoutKindOf(outcome),
      output,
      output_bytes: captured?.total ?? 0,
      truncated: captured?.truncated ?? false,
    };
    try {
      await this.deps.store.write(record);
    } catch (error) {
      this.deps.onError('writing a finished ticket failed', error);
    }
    spool?.remove();
    this.running.delete(key(session, ticket));
    this.recordEnd(record);
    this.wake(record);
    // The shell state matters only to the session's next command, so it is kept after the
    // waiters have answered (the next turn of the event loop) and before the session is
    // free to start that command.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      if (outcome.kind !== 'failed') this.deps.shells.capture(this.deps.store.sessionDir(session));
    } catch (error) {
      this.deps.onError('keeping the shell state failed', error);
    }
    this.busySessions.delete(session);
    this.dispatch();
    return record;
  }

  private recordEnd(record: FinishedTicket): void {
    this.deps.audit.record({
      event: 'ended',
      session: record.session,
      ticket: record.ticket,
      status: record.status,
      exit_code: record.exit_code,
      signal: record.signal,
      duration_ms: record.duration_ms,
      output_bytes: record.output_bytes,
    });
  }

  /** Ends a waiting ticket without running it, with the given status and note. */
  private async endWaiting(entry: Waiting, status: 'canceled' | 'interrupted', note: string): Promise<FinishedTicket> {
    this.waiting = this.waiting.filter((other) => other !== entry);
    const record: FinishedTicket = {
      ...entry.record,
      status,
      started_at: null,
      finished_at: new Date().toISOString(),
      duration_ms: null,
      exit_code: null,
      signal: null,
      timeout_kind: null,
      output: note,
      output_bytes: 0,
      truncated: false,
    };
    await this.deps.store.write(record);
    this.recordEnd(record);
    this.wake(record);
    this.dispatch();
    return record;
  }

  /**
   * Cancels a waiting ticket (it never starts) or stops a running one's process group and
   * returns once it has ended. A finished ticket is returned unchanged.
   */
  async cancel(session: string, ticket: number): Promise<CancelResult | undefined> {
    const waiting = this.waiting.find((entry) => entry.record.session === session && entry.record.ticket === ticket);
    if (waiting !== undefined) {
      const record = await this.endWaiting(waiting, 'canceled', '[llmass: canceled before it started]\n');
      return { record, changed: true };
    }
    const running = this.running.get(key(session, ticket));
    if (running !== undefined) {
      running.command.stop('canceled');
      const record = await running.finished;
      return { record, changed: record.status === 'canceled' };
    }
    const record = await this.deps.store.read(session, ticket);
    return record === undefined ? undefined : { record, changed: false };
  }

  /**
   * Stops taking commands; waiting tickets end `interrupted` at once; running ones get up to
   * `graceSeconds` to finish, then their process groups are stopped and they end `interrupted`.
   */
  async shutdown(graceSeconds: number): Promise<void> {
    this.accepting = false;
    for (const entry of [...this.waiting]) {
      await this.endWaiting(entry, 'interrupted', '[llmass: interrupted: the server was stopped before this command started]\n');
    }
    const finishing = [...this.running.values()].map((run) => run.finished);
    if (finishing.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceSeconds * 1000);
    });
    await Promise.race([Promise.all(finishing), grace]);
    clearTimeout(timer);
    for (const run of this.running.values()) run.command.stop('interrupted');
    await Promise.all(finishing);
  }
}

function statusOf(outcome: RunOutcome): FinalStatus {
  switch (outcome.kind) {
    case 'exited':
      return 'done';
    case 'failed':
      return 'error';
    case 'stopped':
      if (outcome.reason === 'canceled') return 'canceled';
      if (outcome.reason === 'interrupted') return 'interrupted';
      return 'timeout';
  }
}

function timeoutKindOf(outcome: RunOutcome): TimeoutKind | null {
  if (outcome.kind !== 'stopped') return null;
  if (outcome.reason === 'timeout-hard') return 'hard';
  if (outcome.reason === 'timeout-idle') return 'idle';
  return null;
}
