// A bounded cache of finished ticket records. A finished record never changes, so reads of
// results (every poll of a finished ticket, every /history) need not touch the disk. Least
// recently used records go first once the cached records' size passes the budget.
import type { FinishedTicket } from '../protocol/types.js';

/** Rough size of a record in memory: its output dominates; the rest is small. */
function sizeOf(record: FinishedTicket): number {
  return record.output.length * 2 + record.input.length * 2 + 1024;
}

export class RecordCache {
  private readonly records = new Map<string, { record: FinishedTicket; size: number }>();
  private bytes = 0;

  constructor(private readonly budgetBytes: number) {}

  get(key: string): FinishedTicket | undefined {
    const entry = this.records.get(key);
    if (entry === undefined) return undefined;
    // Re-insert: Map order is then least recently used first.
    this.records.delete(key);
    this.records.set(key, entry);
    return entry.record;
  }

  set(key: string, record: FinishedTicket): void {
    this.delete(key);
    const size = sizeOf(record);
    if (size > this.budgetBytes) return;
    this.records.set(key, { record, size });
    this.bytes += size;
    for (const [oldest, entry] of this.records) {
      if (this.bytes <= this.budgetBytes) break;
      this.records.delete(oldest);
      this.bytes -= entry.size;
    }
  }

  delete(key: string): void {
    const entry = this.records.get(key);
    if (entry === undefined) return;
    this.records.delete(key);
    this.bytes -= entry.size;
  }

  /** Forgets every record of a session (its directory was removed). */
  deleteSession(session: string): void {
    for (const key of [...this.records.keys()]) if (key.startsWith(`${session}/`)) this.delete(key);
  }

  get size(): number {
    return this.records.size;
  }

  get sizeBytes(): number {
    return this.bytes;
  }
}
