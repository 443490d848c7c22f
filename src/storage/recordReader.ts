// Reading a ticket record back: every record is checked (recordFields.ts) before it is believed,
// opened without following links, a small one read synchronously and parsed whole, a large one
// streamed so that memory holds a chunk and the part of its output an answer shows. Finished
// small records are answered from the record cache.
import fs from 'node:fs';
import { isMissing, NotAFile, openRegularSync } from './safeFiles.js';
import { OutputCollector, collectText } from './outputCollector.js';
import type { CollectedOutput, OutputPlan } from '../protocol/outputParts.js';
import { isFinished, type FinishedTicket, type TicketMeta, type TicketRecord } from '../protocol/types.js';
import type { RecordCache } from './recordCache.js';
import { RecordParser } from './recordParser.js';
import { DamagedRecord, validateMeta } from './recordFields.js';
import type { SessionLayout } from './sessionLayout.js';
import { SYNC_IO_LIMIT } from './recordWriter.js';

const STREAM_CHUNK = 256 * 1024;

/** A record as read back: its fields, and the part of its output the plan asked for. */
export interface StoredTicket {
  readonly meta: TicketMeta;
  readonly output: CollectedOutput;
}

/** One read through the thread pool: a large record never blocks other requests. */
function readAt(fd: number, buffer: Buffer, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buffer, 0, buffer.length, position, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead)));
  });
}

function parseSmall(text: string, session: string, ticket: number): TicketRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // The parser's message quotes the file: it must not reach an answer or a log.
    throw new DamagedRecord(text.length === 0 ? 'the file is empty' : 'it is not valid JSON (truncated or overwritten)');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new DamagedRecord('it is not a JSON object');
  const fields: Readonly<Record<string, unknown>> = Object.fromEntries(Object.entries(value));
  const meta = validateMeta(fields, session, ticket);
  if (!isFinished(meta)) return meta;
  const output = fields.output;
  if (typeof output !== 'string') throw new DamagedRecord('output is not a string');
  const finished: FinishedTicket = { ...meta, output };
  return finished;
}

export class RecordReader {
  constructor(
    private readonly layout: SessionLayout,
    /** A record file larger than this cannot be one of ours: it is damaged, and not read. */
    private readonly maxRecordBytes: number,
    private readonly finished: RecordCache,
  ) {}

  /**
   * The record and the part of its output `plan` asks for; undefined when there is no record.
   * Throws DamagedRecord when the file is not a sound record of this session and ticket.
   */
  async read(session: string, ticket: number, plan: OutputPlan): Promise<StoredTicket | undefined> {
    const key = `${session}/${ticket}`;
    const cached = this.finished.get(key);
    if (cached !== undefined) return { meta: cached, output: collectText(cached.output, plan) };
    const file = this.layout.ticketFile(session, ticket);
    let fd: number;
    try {
      fd = openRegularSync(file);
    } catch (error) {
      if (isMissing(error)) {
        // Gone from disk (an operator pruned the session): forget what we cached of it.
        this.finished.deleteSession(session);
        return undefined;
      }
      if (error instanceof NotAFile) throw new DamagedRecord(error.message);
      throw error;
    }
    let small: string | undefined;
    try {
      small = this.readSmall(fd);
    } finally {
      if (small !== undefined) fs.closeSync(fd);
    }
    if (small !== undefined) {
      const record = parseSmall(small, session, ticket);
      if (!isFinished(record)) return { meta: record, output: collectText('', plan) };
      this.finished.set(key, record);
      return { meta: record, output: collectText(record.output, plan) };
    }
    return this.readLarge(fd, session, ticket, plan);
  }

  /**
   * The file's text when it is at most SYNC_IO_LIMIT bytes, read synchronously; undefined when
   * larger. Open, fstat, read and close of a few kilobytes in the page cache take tens of
   * microseconds, while fs.promises.readFile makes five thread-pool round trips (about 170 µs a
   * file on these machines), which dominated a cold /history of thousands of tickets.
   */
  private readSmall(fd: number): string | undefined {
    const size = fs.fstatSync(fd).size;
    if (size > SYNC_IO_LIMIT) return undefined;
    // One byte more than the size: a file that grew since fstat is left to the streaming read.
    const buffer = Buffer.allocUnsafe(size + 1);
    const n = fs.readSync(fd, buffer, 0, buffer.length, 0);
    return n > size ? undefined : buffer.toString('utf8', 0, n);
  }

  /** A large record, streamed: memory holds a chunk and the part of the output the plan keeps. */
  private async readLarge(fd: number, session: string, ticket: number, plan: OutputPlan): Promise<StoredTicket> {
    try {
      const size = fs.fstatSync(fd).size;
      if (size > this.maxRecordBytes) throw new DamagedRecord(`the file is larger (${size} bytes) than any record this server writes`);
      const collector = new OutputCollector(plan);
      const parser = new RecordParser('output', collector);
      const buffer = Buffer.allocUnsafe(STREAM_CHUNK);
      for (let position = 0; ; ) {
        const n = await readAt(fd, buffer, position);
        if (n === 0) break;
        parser.feed(buffer.subarray(0, n));
        position += n;
      }
      const meta = validateMeta(parser.end(), session, ticket);
      return { meta, output: collector.result() };
    } finally {
      fs.closeSync(fd);
    }
  }
}
