// Output capture that keeps memory flat: a running command's output goes straight to a spool
// file on disk. The file holds a 16-byte header (total bytes written), the first half of
// MAX_OUTPUT_BYTES as written, and the last half as a ring buffer, so that however much a
// command prints, the file stays within MAX_OUTPUT_BYTES and keeps its head and its tail.
import fs from 'node:fs';

const HEADER_BYTES = 16;

export interface StoredOutput {
  /** Head, marker, tail: what the ticket keeps. */
  readonly stored: Buffer;
  /** Every byte the command wrote. */
  readonly total: number;
  readonly truncated: boolean;
}

/** What a command that has printed nothing has stored. */
export const NO_OUTPUT: StoredOutput = Object.freeze({ stored: Buffer.alloc(0), total: 0, truncated: false });

export function omittedMarker(omitted: number, head: number, tail: number, total: number): string {
  return `\n\n[llmass: ${omitted} bytes of output omitted here; the stored output keeps the first ${head} and the last ${tail} of ${total} bytes]\n\n`;
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return buffer.subarray(0, done);
}

function writeAt(fd: number, data: Buffer, position: number): void {
  let done = 0;
  while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, position + done);
}

/** Splits MAX_OUTPUT_BYTES into the head kept as written and the tail kept as a ring. */
function split(maxBytes: number): { head: number; tail: number } {
  const head = Math.ceil(maxBytes / 2);
  return { head, tail: maxBytes - head };
}

function compose(fd: number, total: number, maxBytes: number): StoredOutput {
  const { head, tail } = split(maxBytes);
  if (total <= head) return { stored: readAt(fd, HEADER_BYTES, total), total, truncated: false };
  const headBytes = readAt(fd, HEADER_BYTES, head);
  const ringStart = HEADER_BYTES + head;
  const beyondHead = total - head;
  if (beyondHead <= tail) {
    return { stored: Buffer.concat([headBytes, readAt(fd, ringStart, beyondHead)]), total, truncated: false };
  }
  const oldest = beyondHead % tail;
  const tailBytes = Buffer.concat([readAt(fd, ringStart + oldest, tail - oldest), readAt(fd, ringStart, oldest)]);
  const marker = Buffer.from(omittedMarker(total - head - tail, head, tail, total), 'utf8');
  return { stored: Buffer.concat([headBytes, marker, tailBytes]), total, truncated: true };
}

export class OutputSpool {
  private total = 0;
  private readonly head: number;
  private readonly tail: number;
  private readonly header = Buffer.alloc(HEADER_BYTES);
  /**
   * Opened at the first byte of output: most commands print little and many print nothing,
   * and a file made and unlinked for each of those would cost every ticket its syscalls.
   */
  private fd: number | null = null;
  private closed = false;

  constructor(
    readonly file: string,
    private readonly maxBytes: number,
  ) {
    ({ head: this.head, tail: this.tail } = split(maxBytes));
  }

  private open(): number {
    this.fd ??= fs.openSync(this.file, 'w+', 0o600);
    return this.fd;
  }

  get bytesWritten(): number {
    return this.total;
  }

  /**
   * Synchronous positional writes: a 64 KiB pwrite into the page cache takes microseconds,
   * and writing in the data handler keeps chunks in arrival order with no buffering of ours.
   */
  append(chunk: Buffer): void {
    if (this.closed || chunk.length === 0) return;
    const fd = this.open();
    let rest = chunk;
    if (this.total < this.head) {
      const part = Math.min(this.head - this.total, rest.length);
      writeAt(fd, rest.subarray(0, part), HEADER_BYTES + this.total);
      rest = rest.subarray(part);
    }
    if (rest.length > 0 && this.tail > 0) this.appendToRing(fd, rest);
    this.total += chunk.length;
    this.header.writeBigUInt64LE(BigInt(this.total), 0);
    writeAt(fd, this.header, 0);
  }

  private appendToRing(fd: number, data: Buffer): void {
    const beyondHead = Math.max(0, this.total - this.head);
    // Only the last `tail` bytes of a large chunk can survive; skip the rest.
    const skip = Math.max(0, data.length - this.tail);
    let position = (beyondHead + skip) % this.tail;
    let rest = data.subarray(skip);
    const ringStart = HEADER_BYTES + this.head;
    while (rest.length > 0) {
      const room = this.tail - position;
      const part = rest.subarray(0, room);
      writeAt(fd, part, ringStart + position);
      rest = rest.subarray(part.length);
      position = (position + part.length) % this.tail;
    }
  }

  /** The stored output so far: head and tail with a marker once something was dropped. */
  snapshot(): StoredOutput {
    if (this.fd === null) return NO_OUTPUT;
    return compose(this.fd, this.total, this.maxBytes);
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

/** Reads a spool left behind by a server that died, or undefined if there is none. */
export function recoverSpool(file: string, maxBytes: number): StoredOutput | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const header = readAt(fd, 0, HEADER_BYTES);
    if (header.length < 8) return undefined;
    const size = fs.fstatSync(fd).size - HEADER_BYTES;
    const claimed = Number(header.readBigUInt64LE(0));
    // The header is written after the data, so it may lag by one chunk, never lead.
    const total = Math.max(claimed, Math.min(size, maxBytes));
    return compose(fd, total, maxBytes);
  } finally {
    fs.closeSync(fd);
  }
}
