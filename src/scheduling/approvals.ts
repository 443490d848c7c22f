// Approvals: the tickets of an approve=always key wait, `pending`, for a person. Approved, a
// ticket is queued as any other (its record says who approved it and when); denied, or left
// undecided for APPROVAL_TIMEOUT, it ends `denied` with the reason, having never run. Each
// decision is stored before it is answered, and audited. A decision is asked for only here:
// a GET never reaches it (the routes take decisions by POST only).
import type { AuditLog } from '../logging/audit.js';
import type { Approval, FinishedTicket, QueuedTicket, TicketBase } from '../protocol/types.js';
import type { TicketStore } from '../storage/ticketStore.js';
import { endedBeforeStart } from './endings.js';
import type { TicketQueue, Waiting } from './queue.js';
import { storageError } from './unavailable.js';

/** What a person decided, and by which credential: the operator's key, or an approval link. */
export type Decision = { readonly kind: 'approve' } | { readonly kind: 'deny'; readonly reason: string };
export type DecidedBy = 'HASH' | 'link';

/** What deciding came to: done now, done before (an approve repeated), or not possible and why. */
export type DecisionResult = { readonly kind: 'decided' | 'unchanged' } | { readonly kind: 'conflict'; readonly why: string };

export interface ApprovalsDeps {
  readonly queue: TicketQueue;
  readonly store: TicketStore;
  readonly audit: AuditLog;
  readonly timeoutMs: number;
  /** Ends a waiting ticket with `record` (stored, announced, the queue moved on); throws StorageUnavailable. */
  readonly endWaiting: (entry: Waiting, record: FinishedTicket) => Promise<void>;
  /** An approved ticket may start: look for room. */
  readonly dispatch: () => void;
  readonly onError: (message: string, error: unknown) => void;
}

export class Approvals {
  private readonly timers = new Map<Waiting, NodeJS.Timeout>();

  constructor(private readonly deps: ApprovalsDeps) {}

  /** A pending ticket is on disk: its time to be decided starts now. */
  arm(entry: Waiting): void {
    const timer = setTimeout(() => {
      this.timers.delete(entry);
      this.decideWaiting(entry, { kind: 'deny', reason: 'no decision' }, 'timeout', 'server').catch((error: unknown) =>
        this.deps.onError('a pending ticket could not be denied at its approval timeout; it stays pending', error),
      );
    }, this.deps.timeoutMs);
    timer.unref();
    this.timers.set(entry, timer);
  }

  /**
   * Decides the ticket: pending, it is approved or denied; approved before, an approve again
   * changes nothing; any other ticket (denied, or one that never waited) is a conflict.
   * Throws StorageUnavailable when the decision cannot be stored: nothing is decided then.
   */
  async decide(session: string, ticket: number, decision: Decision, by: DecidedBy, client: string, current: TicketBase | undefined): Promise<DecisionResult> {
    const entry = this.deps.queue.find(session, ticket);
    if (entry !== undefined && entry.record.status === 'pending') {
      await this.decideWaiting(entry, decision, by, client);
      return { kind: 'decided' };
    }
    const approval = (entry?.record ?? current)?.approval;
    if (approval?.decision === 'approved') {
      return decision.kind === 'approve' ? { kind: 'unchanged' } : { kind: 'conflict', why: `ticket ${ticket} was approved already (${approval.at}): it cannot be denied now; cancel it instead` };
    }
    if (approval?.decision === 'denied') return { kind: 'conflict', why: `ticket ${ticket} was denied already (${approval.at}): a denied ticket stays denied` };
    return { kind: 'conflict', why: `ticket ${ticket} did not wait for approval: its key does not need it` };
  }

  private async decideWaiting(entry: Waiting, decision: Decision, by: Approval['by'], client: string): Promise<void> {
    const approval: Approval = { decision: decision.kind === 'approve' ? 'approved' : 'denied', by, at: new Date().toISOString() };
    const { session, ticket } = entry.record;
    if (decision.kind === 'approve') {
      const queued: QueuedTicket = { ...entry.record, status: 'queued', approval };
      try {
        await this.deps.store.write(queued);
      } catch (error) {
        throw storageError(error);
      }
      entry.record = queued;
    } else {
      const note = `[llmass: denied before it ran: ${decision.reason}]\n`;
      await this.deps.endWaiting(entry, endedBeforeStart(entry.record, 'denied', note, { reason: decision.reason, approval }));
    }
    clearTimeout(this.timers.get(entry));
    this.timers.delete(entry);
    this.deps.audit.record({ event: approval.decision, client, by, session, ticket, key: entry.record.key ?? 'unknown', command: entry.record.input, ...(decision.kind === 'deny' ? { reason: decision.reason } : {}) });
    if (decision.kind === 'approve') this.deps.dispatch();
  }

  /** No decision will come any more (shutdown): the timers stop. */
  close(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
