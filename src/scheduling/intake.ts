// Intake: a submission becomes a ticket. The replay check, the session (made, and claimed for
// its key, when new), the disk's reserve, and the numbering critical section (admit); then the
// record on disk and the audit line before anything can start. A pending ticket (approve=always)
// waits for a person (approvals.ts); any other is started when there is room.
import type { AuditLog } from '../logging/audit.js';
import type { Config } from '../config/config.js';
import type { Redactor } from '../logging/redact.js';
import type { QueuedTicket, TicketRequest } from '../protocol/types.js';
import { freeBytes } from '../storage/safeFiles.js';
import type { SessionOwners } from '../storage/sessionOwners.js';
import type { SessionIndex, TicketStore } from '../storage/ticketStore.js';
import { replayed, SessionTaken, type Admission, type Asker, type SubmitResult } from './admission.js';
import type { Approvals } from './approvals.js';
import type { TicketQueue } from './queue.js';
import type { Dedup } from './replays.js';
import type { NextShells } from './nextShells.js';
import { SchedulerUnavailable, storageError, StorageUnavailable } from './unavailable.js';

export interface IntakeDeps {
  readonly config: Config;
  readonly owners: SessionOwners;
  readonly store: TicketStore;
  readonly audit: AuditLog;
  readonly redactor: Redactor;
  readonly newSessionName: () => string;
  readonly queue: TicketQueue;
  readonly dedup: Dedup;
  readonly next: NextShells;
  readonly approvals: Approvals;
  readonly dispatch: () => void;
  /** False once the server is shutting down: no ticket is taken then. */
  readonly accepting: () => boolean;
  /** A pending ticket is on disk and waits for a person (the approval webhook). */
  readonly onPending?: (record: QueuedTicket) => void;
}

export class Intake {
  private readonly queue: TicketQueue;
  private readonly dedup: Dedup;

  constructor(private readonly deps: IntakeDeps) {
    this.queue = deps.queue;
    this.dedup = deps.dedup;
  }

  /**
   * Hands out a ticket and returns once `<n>.ticket` is on disk. Without a session, a new one
   * is made. A replay of the same command and nonce within DEDUP_WINDOW returns the first ticket.
   */
  async submit(session: string | undefined, request: TicketRequest, identity: string, client: string, asker: Asker): Promise<SubmitResult> {
    const { key } = asker;
    this.assertAccepting();
    // Looked for before the session is opened too: a replay must not make a new session.
    const replay = this.dedup.find(session, identity, key);
    if (replay !== undefined) return replayed(replay);
    this.assertRoom(asker.operator);
    const name = session ?? this.deps.newSessionName();
    const index = await this.deps.store.open(name, true).catch((error: unknown) => {
      throw storageError(error);
    });
    if (index === undefined) throw new StorageUnavailable('failed', `session ${name} could not be opened`);
    // A new session is the asker's; one made by another key meanwhile is not there for it.
    const owner = this.deps.owners.claim(name, { key, user: asker.user });
    if (owner.key !== key && !asker.operator) throw new SessionTaken(name);
    this.assertAccepting();
    const admitted = this.admit(session, name, index, request, identity, asker);
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
    // A pending ticket waits for a person. A shell started ahead takes its command at once.
    // Otherwise the ticket starts on the next turn of the event loop, after this answer is
    // written: spawning blocks for milliseconds, which the submitter need not wait for.
    if (record.status === 'pending') {
      this.deps.approvals.arm(entry);
      this.deps.onPending?.(record);
    } else if (shellReady) this.deps.dispatch();
    else setImmediate(() => this.deps.dispatch());
    return { session: name, ticket: record.ticket };
  }

  /**
   * The numbering critical section. Synchronous, so that no other submission can come between
   * its steps: the replay check, the queue bound, the number, the queue entry, the start of the
   * record's write and the replay entry are decided together, and every number is handed out
   * to exactly one record in the order of the queue.
   */
  private admit(asked: string | undefined, name: string, index: SessionIndex, request: TicketRequest, identity: string, asker: Asker): Admission {
    const { key } = asker;
    const raced = this.dedup.find(asked, identity, key);
    if (raced !== undefined) return { kind: 'replay', replay: raced };
    if (this.queue.full) throw new SchedulerUnavailable('queue-full', 5, this.deps.config.maxQueue);
    const ticket = this.deps.store.allocate(index);
    // A pending ticket may wait an hour: it takes no shell started ahead.
    const tracking = this.deps.next.trackingIdFor(name, request.tty !== null || asker.approve);
    const record: QueuedTicket = {
      ticket,
      session: name,
      ...request,
      // The record keeps the command as sent but for the secret; the shell gets it whole.
      input: this.deps.redactor.text(request.input),
      status: asker.approve ? 'pending' : 'queued',
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
    if (!this.deps.accepting()) throw new SchedulerUnavailable('shutting-down', 10);
  }

  /**
   * The reserve: below MIN_FREE_BYTES no new ticket is taken, so running ones can finish; the
   * operator may go on down to MIN_FREE_BYTES_OPERATOR, to clean up a disk an agent filled.
   */
  private assertRoom(operator: boolean): void {
    const { minFreeBytes, minFreeBytesOperator } = this.deps.config;
    const floor = operator ? minFreeBytesOperator : minFreeBytes;
    const name = operator ? 'MIN_FREE_BYTES_OPERATOR, the operator\'s reserve' : 'MIN_FREE_BYTES';
    const free = freeBytes(this.deps.config.sessionsDir);
    if (free !== undefined && free < floor) throw new StorageUnavailable('full', `${free} bytes free, below ${name} (${floor})`);
  }
}
