// Finishing a ticket: its final record goes to disk before anything reports it. Only then is
// the end written to the audit log and are the long-poll waiters answered. When the disk is
// full the record is made to fit first (recordFit.ts: the ticket's own room, then less of its
// output); one that still does not fit is tried again until it can be written (the ticket reads
// as unfinished meanwhile), so that nothing answered as final can read differently after a
// restart.
import type { AuditLog } from '../logging/audit.js';
import { isDiskFull } from '../storage/safeFiles.js';
import type { FinishedTicket } from '../protocol/types.js';
import type { TicketStore } from '../storage/ticketStore.js';
import type { Waiters } from './waiters.js';

export interface FinisherDeps {
  readonly store: TicketStore;
  readonly audit: AuditLog;
  readonly waiters: Waiters;
  /** Milliseconds between attempts to write a final record that could not be written. */
  readonly retryMs: number;
  readonly onError: (message: string, error: unknown) => void;
  /** Told of every final record once it is on disk, before the waiters are answered. */
  readonly onFinished?: (record: FinishedTicket) => void;
}

export const ticketKey = (session: string, ticket: number): string => `${session}/${ticket}`;

export class Finisher {
  private abandoned = false;
  private readonly wakeRetries = new Set<() => void>();

  constructor(private readonly deps: FinisherDeps) {}

  /**
   * Resolves with the record once it is on disk (when the disk was full, the smaller one that
   * fitted); undefined if the server gave up (abandon(), at shutdown): the record on disk then
   * still says unfinished, and the next start marks it interrupted. The caller then announce()s
   * what was stored, once it no longer counts the ticket as running.
   *
   * `fit`, on a full disk: the record to try next at once (it may free room first), or
   * undefined when nothing smaller can be made; then the write waits for room.
   */
  async store(record: FinishedTicket, onRetry?: (error: unknown) => void, fit?: (tried: FinishedTicket) => FinishedTicket | undefined): Promise<FinishedTicket | undefined> {
    let current = record;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.deps.store.write(current);
        return current;
      } catch (error) {
        const smaller = isDiskFull(error) ? fit?.(current) : undefined;
        if (smaller !== undefined) {
          current = smaller;
          continue;
        }
        if (attempt === 1) this.deps.onError(`the final record of ${ticketKey(record.session, record.ticket)} could not be written; trying again until it can`, error);
        onRetry?.(error);
        if (this.abandoned || !(await this.pause())) return undefined;
      }
    }
  }

  /** A final record is on disk: the audit log says so, then the waiters are answered. */
  announce(record: FinishedTicket): void {
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
    this.deps.onFinished?.(record);
    this.deps.waiters.wake(ticketKey(record.session, record.ticket), record);
  }

  /** Waits retryMs; false when abandoned meanwhile. */
  private pause(): Promise<boolean> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.wakeRetries.delete(wake);
        resolve(!this.abandoned);
      };
      const timer = setTimeout(wake, this.deps.retryMs);
      this.wakeRetries.add(wake);
    });
  }

  /** Stops retrying (shutdown): pending finishes resolve false at once. */
  abandon(): void {
    this.abandoned = true;
    for (const wake of [...this.wakeRetries]) wake();
  }
}
