// Output capture that keeps memory flat: a running command's output goes straight to a spool
// file on disk. The file holds a 16-byte header (bytes spooled), the first half of
// MAX_OUTPUT_BYTES as written, and the last half as a ring buffer, so that however much a
// command prints, the file stays within MAX_OUTPUT_BYTES and keeps its head and its tail.
// The secret is redacted before anything is spooled. A write that fails (a full disk) stops
// the spooling, not the command: what was stored stays, with a line saying what was not.
import fs from 'node:fs';
import { createFreshSync, errorCode, isDiskFull, openRegularSync } from './safeFiles.js';
import type { ByteSink } from './jsonStringDecoder.js';
import type { Redactor, StreamRedactor } from '../logging/redact.js';

const HEADER_BYTES = 16;
const READ_CHUNK = 64 * 1024;

export function omittedMarker(omitted: number, head: number, tail: number, total: number): string {
  return `\n\n[llmass: ${omitted} bytes of output were not stored (dropped for good); the stored output keeps the first ${head} and the last ${tail} of ${total} bytes]\n\n`;
}

function failureNote(storedUpTo: number, error: unknown): string {
  const why = isDiskFull(error) ? 'the sessions disk is full' : `the spool could not be written (${errorCode(error)})`;
  return `\n[llmass: output after byte ${storedUpTo} was not stored: ${why}]\n`;
}

function writeAt(fd: number, data: Buffer, position: number): void {
  let done = 0;
  while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, position + done);
}

/** Feeds the bytes at [position, position+length) of `fd` to `sink`, a chunk at a time. */
function feedRange(fd: number, position: number, length: number, sink: ByteSink): void {
  let done = 0;
  while (done < length) {
    const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, length - done));
    const n = fs.readSync(fd, buffer, 0, buffer.length, position + done);
    if (n === 0) break;
    sink.push(buffer.subarray(0, n));
    done += n;
  }
}

/** Splits MAX_OUTPUT_BYTES into the head kept as written and the tail kept as a ring. */
function split(maxBytes: number): { head: number; tail: number } {
  const head = Math.ceil(maxBytes / 2);
  return { head, tail: maxBytes - head };
}

/** The stored output of a spool holding `spooled` bytes: head, a marker if bytes were dropped, tail. */
function feedSpool(fd: number, spooled: number, maxBytes: number, sink: ByteSink): void {
  const { head, tail } = split(maxBytes);
  if (spooled <= head) {
    feedRange(fd, HEADER_BYTES, spooled, sink);
    return;
  }
  feedRange(fd, HEADER_BYTES, head, sink);
  const ringStart = HEADER_BYTES + head;
  const beyondHead = spooled - head;
  if (beyondHead <= tail) {
    feedRange(fd, ringStart, beyondHead, sink);
    return;
  }
  sink.push(Buffer.from(omittedMarker(spooled - head - tail, head, tail, spooled), 'utf8'));
  const oldest = beyondHead % tail;
  feedRange(fd, ringStart + oldest, tail - oldest, sink);
  feedRange(fd, ringStart, oldest, sink);
}

/** A ticket's output as it stands: where its stored bytes come from, and its counts. */
export interface OutputSource {
  /** Every byte the command wrote, stored or not. */
  readonly total: number;
  /** True when stored output dropped bytes. */
  readonly truncated: boolean;
  /** Feeds the stored output's bytes, in order. */
  feed(sink: ByteSink): void;
}

export const NO_OUTPUT: OutputSource = Object.freeze({ total: 0, truncated: false, feed: () => undefined });

class Gather implements ByteSink {
  readonly parts: Buffer[] = [];
  push(bytes: Buffer): void {
    this.parts.push(bytes);
  }
}

/** The whole stored output as text: for the final record, at most about MAX_OUTPUT_BYTES. */
export function storedText(source: OutputSource): string {
  const gather = new Gather();
  source.feed(gather);
  return Buffer.concat(gather.parts).toString('utf8');
}

export class OutputSpool implements OutputSource {
  private written = 0;
  private spooled = 0;
  private readonly head: number;
  private readonly tail: number;
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private readonly redaction: StreamRedactor;
  /**
   * Opened at the first byte of output: most commands print little and many print nothing,
   * and a file made and unlinked for each of those would cost every ticket its syscalls.
   */
  private fd: number | null = null;
  private closed = false;
  private failure: string | null = null;
  /** Bytes the command had written when storing stopped. */
  private writtenAtFailure = 0;

  constructor(
    readonly file: string,
    private readonly maxBytes: number,
    redactor: Redactor,
  ) {
    ({ head: this.head, tail: this.tail } = split(maxBytes));
    this.redaction = redactor.stream();
  }

  get total(): number {
    return this.written;
  }

  get truncated(): boolean {
    return this.failure !== null || this.spooled > this.maxBytes;
  }

  /** Bytes written but not stored (gone for good): past the ring's reach, or after a failed write. */
  get dropped(): number {
    const overflow = Math.max(0, this.spooled - this.maxBytes);
    return overflow + (this.failure === null ? 0 : this.written - this.writtenAtFailure);
  }

  /** Why output stopped being stored, if it did. */
  get storeFailure(): string | null {
    return this.failure;
  }

  /**
   * Synchronous positional writes: a 64 KiB pwrite into the page cache takes microseconds,
   * and writing in the data handler keeps chunks in arrival order with no buffering of ours.
   */
  append(chunk: Buffer): void {
    if (this.closed || chunk.length === 0) return;
    const before = this.written;
    this.written += chunk.length;
    if (this.failure !== null) return;
    this.spool(this.redaction.push(chunk));
    if (this.failure !== null) this.writtenAtFailure = before;
  }

  /** No more output will come: store what the redaction held back. */
  endInput(): void {
    if (this.closed || this.failure !== null) return;
    this.spool(this.redaction.end());
    if (this.failure !== null) this.writtenAtFailure = this.written;
  }

  private spool(data: Buffer): void {
    if (data.length === 0) return;
    try {
      this.fd ??= createFreshSync(this.file);
      this.writeData(this.fd, data);
      this.spooled += data.length;
      this.header.writeBigUInt64LE(BigInt(this.spooled), 0);
      writeAt(this.fd, this.header, 0);
    } catch (error) {
      this.failure = failureNote(Math.min(this.spooled, this.maxBytes), error);
    }
  }

  private writeData(fd: number, data: Buffer): void {
    let rest = data;
    if (this.spooled < this.head) {
      const part = Math.min(this.head - this.spooled, rest.length);
      writeAt(fd, rest.subarray(0, part), HEADER_BYTES + this.spooled);
      rest = rest.subarray(part);
    }
    if (rest.length > 0 && this.tail > 0) this.writeToRing(fd, rest, this.spooled + (data.length - rest.length));
  }

  private writeToRing(fd: number, data: Buffer, spooledBefore: number): void {
    const beyondHead = Math.max(0, spooledBefore - this.head);
    // Only the last `tail` bytes of a large chunk can survive; skip the rest.
    const skip = Math.max(0, data.length - this.tail);
    let position = (beyondHead + skip) % this.tail;
    let rest = data.subarray(skip);
    const ringStart = HEADER_BYTES + this.head;
    while (rest.length > 0) {
      const part = rest.subarray(0, this.tail - position);
      writeAt(fd, part, ringStart + position);
      rest = rest.subarray(part.length);
      position = (position + part.length) % this.tail;
    }
  }

  feed(sink: ByteSink): void {
    if (this.fd !== null) feedSpool(this.fd, this.spooled, this.maxBytes, sink);
    if (this.failure !== null) sink.push(Buffer.from(this.failure, 'utf8'));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.fd !== null) fs.closeSync(this.fd);
  }

  remove(): void {
    const opened = this.fd !== null;
    this.close();
    if (opened) fs.rmSync(this.file, { force: true });
  }
}

/** Reads a spool left behind by a server that died: its stored output as text, or undefined. */
export function recoverSpool(file: string, maxBytes: number): { output: string; total: number; truncated: boolean; dropped: number } | undefined {
  let fd: number;
  try {
    fd = openRegularSync(file);
  } catch {
    return undefined;
  }
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    if (fs.readSync(fd, header, 0, HEADER_BYTES, 0) < 8) return undefined;
    const size = Math.max(0, fs.fstatSync(fd).size - HEADER_BYTES);
    const claimed = Number(header.readBigUInt64LE(0));
    // The header is written after the data, so it may lag by one chunk, never lead; a header
    // claiming more than a spool can hold is damage, and only what the file holds is read.
    const spooled = Math.min(Math.max(claimed, Math.min(size, maxBytes)), Number.MAX_SAFE_INTEGER);
    const gather = new Gather();
    feedSpool(fd, spooled, maxBytes, gather);
    return { output: Buffer.concat(gather.parts).toString('utf8'), total: spooled, truncated: spooled > maxBytes, dropped: Math.max(0, spooled - maxBytes) };
  } finally {
    fs.closeSync(fd);
  }
}
