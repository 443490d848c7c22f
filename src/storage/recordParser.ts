// Reads a ticket record without holding it whole. A record is a JSON object of small values
// (primitives, and a short list or two); this parser takes the file's bytes in chunks of any size and hands the decoded
// UTF-8 bytes of one string field (the output, up to megabytes) to a sink as they come, while
// it keeps the other fields (small) as values. Decoding matches JSON.parse followed by
// Buffer.from(text, 'utf8'), lone surrogates becoming U+FFFD as Buffer.from makes them.
// Pure: no I/O. Anything that is not such an object throws DamagedRecord, naming the problem
// but never quoting the bytes.
import { DamagedRecord } from './records.js';

export interface ByteSink {
  push(bytes: Buffer): void;
}

/** Other string fields (the command, at most 128 KiB as text) may not grow past this. */
const MAX_FIELD_BYTES = 1024 * 1024;
const STAGING_BYTES = 64 * 1024;

type State = 'start' | 'key-or-end' | 'key' | 'colon' | 'value' | 'string' | 'literal' | 'nested' | 'comma-or-end' | 'done';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

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

/** Collects a small field's bytes; refuses past MAX_FIELD_BYTES. */
class FieldBytes implements ByteSink {
  private parts: Buffer[] = [];
  private length = 0;

  push(bytes: Buffer): void {
    this.length += bytes.length;
    if (this.length > MAX_FIELD_BYTES) throw new DamagedRecord('a field is larger than any record holds');
    this.parts.push(Buffer.from(bytes));
  }

  text(): string {
    return Buffer.concat(this.parts).toString('utf8');
  }
}

export class RecordParser {
  private state: State = 'start';
  private readonly fields: Record<string, unknown> = {};
  private key = '';
  private stringIsKey = false;
  private target: ByteSink = new FieldBytes();
  private fieldBytes: FieldBytes | null = null;
  private streamedSeen = false;
  private literal = '';
  // A nested value (a list of objects), kept as its raw bytes and parsed whole at its end.
  private nested: FieldBytes | null = null;
  private nestedDepth = 0;
  private nestedInString = false;
  private nestedEscaped = false;
  // String decoding: the escape being read, and a high surrogate waiting for its low half.
  private escape: 'none' | 'backslash' | 'unicode' = 'none';
  private unicodeDigits = 0;
  private unicodeValue = 0;
  private pendingHigh = -1;
  private readonly staging = Buffer.allocUnsafe(STAGING_BYTES);
  private staged = 0;

  /** `streamedField`'s decoded bytes go to `sink`; it is not among the returned fields. */
  constructor(
    private readonly streamedField: string,
    private readonly sink: ByteSink,
  ) {}

  feed(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'string') {
        i = this.readString(chunk, i);
        continue;
      }
      if (this.state === 'nested') {
        i = this.readNested(chunk, i);
        continue;
      }
      const byte = chunk[i] ?? 0;
      i += 1;
      this.step(byte);
    }
  }

  /** The fields once the whole object was read; throws DamagedRecord if it is incomplete. */
  end(): Record<string, unknown> {
    if (this.state === 'literal') this.endLiteral();
    if (this.state !== 'done') throw new DamagedRecord('the record is cut short (truncated JSON)');
    return this.fields;
  }

  private step(byte: number): void {
    if (this.state === 'literal') {
      if (byte === 0x2c || byte === 0x7d || isSpace(byte)) {
        this.endLiteral();
        this.step(byte);
      } else {
        this.literal += String.fromCharCode(byte);
        if (this.literal.length > 64) throw new DamagedRecord('a value is not valid JSON');
      }
      return;
    }
    if (isSpace(byte)) return;
    switch (this.state) {
      case 'start':
        if (byte !== 0x7b) throw new DamagedRecord('it is not a JSON object');
        this.state = 'key-or-end';
        return;
      case 'key-or-end':
        if (byte === 0x7d) {
          this.state = 'done';
          return;
        }
        this.expectKey(byte);
        return;
      case 'key':
        this.expectKey(byte);
        return;
      case 'colon':
        if (byte !== 0x3a) throw new DamagedRecord('it is not valid JSON');
        this.state = 'value';
        return;
      case 'value':
        this.startValue(byte);
        return;
      case 'comma-or-end':
        if (byte === 0x2c) this.state = 'key';
        else if (byte === 0x7d) this.state = 'done';
        else throw new DamagedRecord('it is not valid JSON');
        return;
      case 'done':
        throw new DamagedRecord('there is more after the record');
      default:
        throw new DamagedRecord('it is not valid JSON');
    }
  }

  private expectKey(byte: number): void {
    if (byte !== QUOTE) throw new DamagedRecord('it is not valid JSON');
    this.startString(true);
  }

  private startValue(byte: number): void {
    if (byte === QUOTE) {
      this.startString(false);
      return;
    }
    if (byte === 0x7b || byte === 0x5b) {
      if (this.key === this.streamedField) throw new DamagedRecord(`${this.streamedField} is not a string`);
      this.nested = new FieldBytes();
      this.nested.push(Buffer.of(byte));
      this.nestedDepth = 1;
      this.nestedInString = false;
      this.nestedEscaped = false;
      this.state = 'nested';
      return;
    }
    this.literal = String.fromCharCode(byte);
    this.state = 'literal';
  }

  private endLiteral(): void {
    let value: unknown;
    try {
      value = JSON.parse(this.literal);
    } catch {
      throw new DamagedRecord('a value is not valid JSON');
    }
    this.setField(value);
  }

  /** Reads a nested value's bytes from `start`, tracking depth outside strings; returns where it stopped. */
  private readNested(chunk: Buffer, start: number): number {
    let i = start;
    while (i < chunk.length && this.nestedDepth > 0) {
      const byte = chunk[i] ?? 0;
      i += 1;
      if (this.nestedInString) {
        if (this.nestedEscaped) this.nestedEscaped = false;
        else if (byte === BACKSLASH) this.nestedEscaped = true;
        else if (byte === QUOTE) this.nestedInString = false;
      } else if (byte === QUOTE) this.nestedInString = true;
      else if (byte === 0x7b || byte === 0x5b) this.nestedDepth += 1;
      else if (byte === 0x7d || byte === 0x5d) this.nestedDepth -= 1;
    }
    this.nested?.push(chunk.subarray(start, i));
    if (this.nestedDepth === 0) {
      let value: unknown;
      try {
        value = JSON.parse(this.nested?.text() ?? '');
      } catch {
        throw new DamagedRecord(`field ${this.key.slice(0, 40)} is not valid JSON`);
      }
      this.nested = null;
      this.setField(value);
    }
    return i;
  }

  private setField(value: unknown): void {
    if (Object.hasOwn(this.fields, this.key) || (this.key === this.streamedField && this.streamedSeen)) {
      throw new DamagedRecord(`field ${this.key.slice(0, 40)} appears twice`);
    }
    if (this.key === this.streamedField) throw new DamagedRecord(`${this.streamedField} is not a string`);
    this.fields[this.key] = value;
    this.state = 'comma-or-end';
  }

  private startString(isKey: boolean): void {
    this.stringIsKey = isKey;
    this.state = 'string';
    if (!isKey && this.key === this.streamedField) {
      if (this.streamedSeen) throw new DamagedRecord(`field ${this.streamedField} appears twice`);
      this.streamedSeen = true;
      this.target = this.sink;
      this.fieldBytes = null;
    } else {
      this.fieldBytes = new FieldBytes();
      this.target = this.fieldBytes;
    }
  }

  private endString(): void {
    this.flushPendingHigh();
    this.flushStaging();
    const field = this.fieldBytes;
    if (this.stringIsKey) {
      this.key = field?.text() ?? '';
      this.state = 'colon';
      return;
    }
    if (field === null) {
      this.state = 'comma-or-end';
      return;
    }
    this.setField(field.text());
  }

  /** Reads string content from `i`; returns where it stopped (after the closing quote, or the end). */
  private readString(chunk: Buffer, start: number): number {
    let i = start;
    while (i < chunk.length) {
      const byte = chunk[i] ?? 0;
      i += 1;
      if (this.escape === 'none') {
        if (byte === QUOTE) {
          this.endString();
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
