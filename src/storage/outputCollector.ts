// Keeps the part of a ticket's stored output that one answer shows, whatever the output's
// size: the bytes arrive in order (from a record being read, or a spool) and only a bounded
// part is kept. Either an exact window [offset, offset+limit), or everything up to `viewBytes`
// and, beyond that, the head and the tail that the default view shows. Pure: no I/O.
import type { ByteSink } from './jsonStringDecoder.js';
import { headShare, type CollectedOutput, type OutputPlan } from '../protocol/outputParts.js';

/** Bytes kept beyond the tail's size, so that a cut can back off to a character boundary. */
const BOUNDARY_SLACK = 4;

export class OutputCollector implements ByteSink {
  private total = 0;
  private readonly first: Buffer;
  private firstLength = 0;
  /** The last bytes seen, as a ring: `ring[(ringEnd - n) mod size]` is n bytes before the end. */
  private readonly ring: Buffer;
  private ringEnd = 0;

  constructor(private readonly plan: OutputPlan) {
    if (plan.kind === 'view') {
      this.first = Buffer.allocUnsafe(plan.viewBytes);
      this.ring = Buffer.allocUnsafe(plan.viewBytes - headShare(plan.viewBytes) + BOUNDARY_SLACK);
    } else {
      this.first = Buffer.allocUnsafe(plan.limit);
      this.ring = Buffer.alloc(0);
    }
  }

  push(bytes: Buffer): void {
    if (this.plan.kind === 'window') this.keepWindow(bytes);
    else this.keepView(bytes);
    this.total += bytes.length;
  }

  private keepWindow(bytes: Buffer): void {
    if (this.plan.kind !== 'window') return;
    const start = Math.max(this.plan.offset, this.total);
    const end = Math.min(this.plan.offset + this.plan.limit, this.total + bytes.length);
    if (end <= start) return;
    bytes.copy(this.first, start - this.plan.offset, start - this.total, end - this.total);
    this.firstLength = end - this.plan.offset;
  }

  private keepView(bytes: Buffer): void {
    if (this.firstLength < this.first.length) {
      this.firstLength += bytes.copy(this.first, this.firstLength, 0, Math.min(bytes.length, this.first.length - this.firstLength));
    }
    const size = this.ring.length;
    // Only the last `size` bytes of a chunk can stay in the ring.
    let rest = bytes.length > size ? bytes.subarray(bytes.length - size) : bytes;
    while (rest.length > 0) {
      const room = size - this.ringEnd;
      const part = rest.subarray(0, room);
      part.copy(this.ring, this.ringEnd);
      this.ringEnd = (this.ringEnd + part.length) % size;
      rest = rest.subarray(part.length);
    }
  }

  result(): CollectedOutput {
    if (this.plan.kind === 'window') {
      const offset = Math.min(this.plan.offset, this.total);
      return { kind: 'window', storedBytes: this.total, offset, bytes: this.first.subarray(0, Math.max(0, this.firstLength)) };
    }
    if (this.total <= this.first.length) return { kind: 'whole', storedBytes: this.total, text: this.first.toString('utf8', 0, this.total) };
    const tailLength = Math.min(this.ring.length, this.total);
    const tail = Buffer.concat([this.ring.subarray(this.ringEnd), this.ring.subarray(0, this.ringEnd)]).subarray(this.ring.length - tailLength);
    return { kind: 'head-tail', storedBytes: this.total, head: this.first.subarray(0, headShare(this.plan.viewBytes) + BOUNDARY_SLACK), tail };
  }
}

/** Collects `bytes` at once: for output already in memory. */
export function collect(bytes: Buffer, plan: OutputPlan): CollectedOutput {
  const collector = new OutputCollector(plan);
  collector.push(bytes);
  return collector.result();
}

/** Collects output text already in memory; short text needs no byte copy at all. */
export function collectText(text: string, plan: OutputPlan): CollectedOutput {
  if (plan.kind === 'view' && text.length * 3 <= plan.viewBytes) {
    return { kind: 'whole', storedBytes: Buffer.byteLength(text, 'utf8'), text };
  }
  return collect(Buffer.from(text, 'utf8'), plan);
}
