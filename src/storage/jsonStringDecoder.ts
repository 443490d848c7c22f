// Decoding the inside of a JSON string, byte by byte and across chunks of any size, into the
// UTF-8 bytes JSON.parse followed by Buffer.from(text, 'utf8') would give: escapes undone, \u
// escapes and surrogate pairs made into UTF-8, lone surrogates into U+FFFD as Buffer.from makes
// them. The bytes go to a sink in staged runs. Pure; what is not valid JSON throws DamagedRecord.
import { DamagedRecord } from './recordFields.js';

export interface ByteSink {
  push(bytes: Buffer): void;
}

const STAGING_BYTES = 64 * 1024;

export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  return -1;
}

const SIMPLE_ESCAPES: Readonly<Record<number, number>> = {
  0x22: 0x22, // \"
  0x5c: 0x5c, // \\
  0x2f: 0x2f, // \/
  0x62: 0x08, // \b
  0x66: 0x0c, // \f
  0x6e: 0x0a, // \n
  0x72: 0x0d, // \r
  0x74: 0x09, // \t
};

export class JsonStringDecoder {
  /** True once the closing quote was read. */
  closed = false;
  private target: ByteSink = { push: () => undefined };
  // The escape being read, and a high surrogate waiting for its low half.
  private escape: 'none' | 'backslash' | 'unicode' = 'none';
  private unicodeDigits = 0;
  private unicodeValue = 0;
  private pendingHigh = -1;
  private readonly staging = Buffer.allocUnsafe(STAGING_BYTES);
  private staged = 0;

  /** Starts a string (after its opening quote) whose bytes go to `target`. */
  begin(target: ByteSink): void {
    this.target = target;
    this.closed = false;
    this.escape = 'none';
    this.pendingHigh = -1;
    this.staged = 0;
  }

  /** Reads string content from `start`; returns where it stopped: after the closing quote (then `closed`), or the chunk's end. */
  read(chunk: Buffer, start: number): number {
    let i = start;
    while (i < chunk.length) {
      const byte = chunk[i] ?? 0;
      i += 1;
      if (this.escape === 'none') {
        if (byte === QUOTE) {
          this.flushPendingHigh();
          this.flushStaging();
          this.closed = true;
          return i;
        }
        if (byte === BACKSLASH) {
          this.escape = 'backslash';
          continue;
        }
        if (byte < 0x20) throw new DamagedRecord('a string holds a raw control character (not valid JSON)');
        if (this.pendingHigh !== -1) this.flushPendingHigh();
        this.stage(byte);
      } else if (this.escape === 'backslash') {
        if (byte === 0x75) {
          this.escape = 'unicode';
          this.unicodeDigits = 0;
          this.unicodeValue = 0;
          continue;
        }
        const simple = SIMPLE_ESCAPES[byte];
        if (simple === undefined) throw new DamagedRecord('a string holds an invalid escape (not valid JSON)');
        this.escape = 'none';
        if (this.pendingHigh !== -1) this.flushPendingHigh();
        this.stage(simple);
      } else {
        const digit = hexValue(byte);
        if (digit === -1) throw new DamagedRecord('a string holds an invalid \\u escape (not valid JSON)');
        this.unicodeValue = this.unicodeValue * 16 + digit;
        this.unicodeDigits += 1;
        if (this.unicodeDigits === 4) {
          this.escape = 'none';
          this.codeUnit(this.unicodeValue);
        }
      }
    }
    return i;
  }

  private codeUnit(unit: number): void {
    if (unit >= 0xd800 && unit <= 0xdbff) {
      if (this.pendingHigh !== -1) this.flushPendingHigh();
      this.pendingHigh = unit;
      return;
    }
    if (unit >= 0xdc00 && unit <= 0xdfff) {
      if (this.pendingHigh === -1) {
        this.codePoint(0xfffd);
        return;
      }
      const point = 0x10000 + ((this.pendingHigh - 0xd800) << 10) + (unit - 0xdc00);
      this.pendingHigh = -1;
      this.codePoint(point);
      return;
    }
    if (this.pendingHigh !== -1) this.flushPendingHigh();
    this.codePoint(unit);
  }

  /** A high surrogate with no low half after it is a lone surrogate: U+FFFD, as Buffer.from makes it. */
  private flushPendingHigh(): void {
    if (this.pendingHigh === -1) return;
    this.pendingHigh = -1;
    this.codePoint(0xfffd);
  }

  private codePoint(point: number): void {
    if (point < 0x80) {
      this.stage(point);
    } else if (point < 0x800) {
      this.stage(0xc0 | (point >> 6));
      this.stage(0x80 | (point & 0x3f));
    } else if (point < 0x10000) {
      this.stage(0xe0 | (point >> 12));
      this.stage(0x80 | ((point >> 6) & 0x3f));
      this.stage(0x80 | (point & 0x3f));
    } else {
      this.stage(0xf0 | (point >> 18));
      this.stage(0x80 | ((point >> 12) & 0x3f));
      this.stage(0x80 | ((point >> 6) & 0x3f));
      this.stage(0x80 | (point & 0x3f));
    }
  }

  private stage(byte: number): void {
    this.staging[this.staged] = byte;
    this.staged += 1;
    if (this.staged === STAGING_BYTES) this.flushStaging();
  }

  private flushStaging(): void {
    if (this.staged === 0) return;
    // The sink may keep what it gets: it gets its own copy, the staging buffer is reused.
    this.target.push(Buffer.from(this.staging.subarray(0, this.staged)));
    this.staged = 0;
  }
}
