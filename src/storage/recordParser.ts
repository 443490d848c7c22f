// Reads a ticket record without holding it whole. A record is a JSON object of small values
// (primitives, and a short list or two); this parser takes the file's bytes in chunks of any size and hands the decoded
// UTF-8 bytes of one string field (the output, up to megabytes) to a sink as they come, while
// it keeps the other fields (small) as values. Decoding matches JSON.parse followed by
// Buffer.from(text, 'utf8'), lone surrogates becoming U+FFFD as Buffer.from makes them.
// Pure: no I/O. Anything that is not such an object throws DamagedRecord, naming the problem
// but never quoting the bytes.
import { BACKSLASH, JsonStringDecoder, QUOTE, type ByteSink } from './jsonStringDecoder.js';
import { DamagedRecord } from './recordFields.js';


/** Other string fields (the command, at most 128 KiB as text) may not grow past this. */
const MAX_FIELD_BYTES = 1024 * 1024;

type State = 'start' | 'key-or-end' | 'key' | 'colon' | 'value' | 'string' | 'literal' | 'nested' | 'comma-or-end' | 'done';

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

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
  private fieldBytes: FieldBytes | null = null;
  private streamedSeen = false;
  private literal = '';
  // A nested value (a list of objects), kept as its raw bytes and parsed whole at its end.
  private nested: FieldBytes | null = null;
  private nestedDepth = 0;
  private nestedInString = false;
  private nestedEscaped = false;
  private readonly decoder = new JsonStringDecoder();

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
      this.fieldBytes = null;
      this.decoder.begin(this.sink);
    } else {
      this.fieldBytes = new FieldBytes();
      this.decoder.begin(this.fieldBytes);
    }
  }

  private endString(): void {
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
    const stop = this.decoder.read(chunk, start);
    if (this.decoder.closed) this.endString();
    return stop;
  }
}
