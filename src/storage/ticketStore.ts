// The ticket store: session directories under SESSIONS_DIR, ticket numbers, and `<n>.ticket`
// files replaced atomically. Every record read back is checked (records.ts) and read without
// following links or holding a large one whole. It knows nothing of HTTP or of running commands.
import fs from 'node:fs';
import path from 'node:path';
import { errorCode, isMissing, isRealDirectory, NotAFile, openRegularSync } from './safeFiles.js';
import { OutputCollector, collect, type CollectedOutput, type OutputPlan } from './outputCollector.js';
import type { FinishedTicket, TicketMeta, TicketRecord } from '../protocol/types.js';
import { RecordCache } from './recordCache.js';
import { TempFilesAhead, type ReadyTempFile } from './tempFiles.js';
import { RecordParser } from './recordParser.js';
import { DamagedRecord, validateMeta } from './records.js';
import { SESSION_NAME, SessionLayout } from './sessionLayout.js';

/** Records up to this size are written and read synchronously (see write() and readSmall()). */
const SYNC_IO_LIMIT = 64 * 1024;
/** Memory for finished records kept to answer reads without the disk (small records only). */
const RECORD_CACHE_BYTES = 32 * 1024 * 1024;
const STREAM_CHUNK = 256 * 1024;

/** What the store keeps in memory per session: the last number handed out. */
export interface SessionIndex {
  readonly name: string;
  last: number;
}

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

/** Collects output text already in memory; short text needs no byte copy at all. */
export function collectText(text: string, plan: OutputPlan): CollectedOutput {
  if (plan.kind === 'view' && text.length * 3 <= plan.viewBytes) {
    return { kind: 'whole', storedBytes: Buffer.byteLength(text, 'utf8'), text };
  }
  return collect(Buffer.from(text, 'utf8'), plan);
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
  if (meta.status === 'queued' || meta.status === 'running') return meta;
  const output = fields.output;
  if (typeof output !== 'string') throw new DamagedRecord('output is not a string');
  const finished: FinishedTicket = { ...meta, output };
  return finished;
}

/**
 * Writes `text` to a temp file made ahead and renames it over `final`; false (the file removed)
 * when that failed, for the caller to write the usual way (which also remakes a removed session
 * directory).
 */
function writeReadySync(ready: ReadyTempFile, text: string, final: string): boolean {
  let open = true;
  try {
    fs.writeFileSync(ready.fd, text);
    fs.closeSync(ready.fd);
    open = false;
    fs.renameSync(ready.file, final);
    return true;
  } catch {
    if (open) fs.closeSync(ready.fd);
    fs.rmSync(ready.file, { force: true });
    return false;
  }
}

/**
 * Which file made ahead a write uses: a queued record, the session's next; any other, its
 * ticket's, which may have been made as the session's next final one (prepareNextTicket).
 */
function aheadKey(session: string, ticket: number | 'next' | 'next-final'): string {
  return `${session}/${ticket}`;
}

function aheadKeyOf(record: TicketRecord): string {
  return aheadKey(record.session, record.status === 'queued' ? 'next' : record.ticket);
}

export class TicketStore {
  private readonly indexes = new Map<string, Promise<SessionIndex>>();
  private readonly writeChains = new Map<string, Promise<void>>();
  private readonly finished = new RecordCache(RECORD_CACHE_BYTES);
  private readonly ahead = new TempFilesAhead();

  constructor(
    readonly layout: SessionLayout,
    /** A record file larger than this cannot be one of ours: it is damaged, and not read. */
    private readonly maxRecordBytes: number,
  ) {}

  async exists(session: string): Promise<boolean> {
    return isRealDirectory(this.layout.sessionDir(session));
  }

  /** The session's index, creating its directory when `create` is set. */
  async open(session: string, create: boolean): Promise<SessionIndex | undefined> {
    const known = this.indexes.get(session);
    // A known session to write into needs no look at the disk: a directory an operator removed
    // meanwhile is made again by the write itself (writeFileCreatingDir).
    if (known !== undefined) return create || (await this.exists(session)) ? known : undefined;
    const dir = this.layout.sessionDir(session);
    if (create) {
      try {
        await fs.promises.mkdir(dir, { mode: 0o700 });
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw error;
      }
    }
    if (!(await this.exists(session))) {
      if (create) throw new NotAFile(`the session directory of ${session} is not a directory`);
      return undefined;
    }
    // Two requests may race here; the first promise stored wins and both share it, so the
    // counter is initialised once and numbers stay unique.
    const raced = this.indexes.get(session);
    if (raced) return raced;
    const pending = this.ticketNumbers(session).then((numbers) => ({ name: session, last: numbers.at(-1) ?? 0 }));
    this.indexes.set(session, pending);
    pending.catch(() => this.indexes.delete(session));
    return pending;
  }

  /**
   * Hands out the next number. Synchronous, so no two callers can get the same one. A number
   * whose record file exists already (planted, or damaged and unreadable, after the index was
   * read) is passed over: a ticket number is never reused, not even over a damaged record.
   */
  allocate(index: SessionIndex): number {
    do index.last += 1;
    while (fs.lstatSync(this.layout.ticketFile(index.name, index.last), { throwIfNoEntry: false }) !== undefined);
    return index.last;
  }

  /** Takes back a number whose record could not be written, if no later one was handed out. */
  release(index: SessionIndex, ticket: number): void {
    if (index.last === ticket) index.last -= 1;
  }

  /**
   * The session's ticket numbers in ascending numeric order (100 after 99, not after 10): every
   * entry named like a record counts, damaged or not, so no number with a file is reused.
   */
  async ticketNumbers(session: string): Promise<number[]> {
    let names: string[];
    try {
      names = await fs.promises.readdir(this.layout.sessionDir(session));
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
    const numbers: number[] = [];
    for (const name of names) {
      const ticket = SessionLayout.ticketOf(name);
      if (ticket !== undefined) numbers.push(ticket);
    }
    return numbers.sort((a, b) => a - b);
  }

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
      if (record.status === 'queued' || record.status === 'running') return { meta: record, output: collectText('', plan) };
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

  /**
   * Replaces `<n>.ticket` atomically: the record goes to a temp file which is then renamed
   * over the old one, so a reader sees the old or the new record, never half of one. Writes
   * to one ticket land in the order they were asked for. The temp file is created exclusively,
   * so a link planted under its name is never followed.
   *
   * A small record (most are) is written synchronously: a few kilobytes into the page cache
   * take tens of microseconds, far less than the four thread-pool round trips of an async
   * write, which sit on the path of every submission and every result. A large record (big
   * output) goes through the thread pool so that it never blocks other requests.
   *
   * A small record whose temp file is still being made ahead waits for it: making another would
   * take as long again (a new inode: 0.6 to 5 ms on these machines), on the event loop.
   */
  write(record: TicketRecord): Promise<void> {
    const key = `${record.session}/${record.ticket}`;
    const text = JSON.stringify(record, null, 1) + '\n';
    const pending = this.writeChains.get(key);
    const small = text.length <= SYNC_IO_LIMIT;
    const fileBeingMade = pending === undefined && small ? this.ahead.whenMade(aheadKeyOf(record)) : undefined;
    if (pending === undefined && small && fileBeingMade === undefined) {
      try {
        this.writeSyncNow(record, text);
        this.remember(key, record);
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const writeOne = fileBeingMade !== undefined ? () => this.writeSyncNow(record, text) : () => this.writeNow(record, text);
    const next = (pending ?? fileBeingMade ?? Promise.resolve()).then(writeOne).then(() => this.remember(key, record));
    const settled = next.catch(() => undefined);
    this.writeChains.set(key, settled);
    void settled.then(() => {
      if (this.writeChains.get(key) === settled) this.writeChains.delete(key);
    });
    return next;
  }

  /**
   * The temp file the ticket's final record will be written to (tempFiles.ts), called when its
   * command starts: the one made while the session was idle, else one created now, off the
   * request's path.
   */
  prepareNextWrite(session: string, ticket: number): void {
    if (this.ahead.rekey(aheadKey(session, 'next-final'), aheadKey(session, ticket))) return;
    this.ahead.prepare(aheadKey(session, ticket), this.layout.tempFile(session, ticket));
  }

  /**
   * The same for the session's next ticket, while the session is idle: the temp files of its
   * queued record and of its final record (prepareNextWrite takes the latter, once it starts).
   */
  prepareNextTicket(session: string): void {
    this.ahead.prepare(aheadKey(session, 'next'), this.layout.nextTicketTempFile(session));
    this.ahead.prepare(aheadKey(session, 'next-final'), this.layout.nextTicketTempFile(session));
  }

  /** Removes the temp files made ahead (shutdown). */
  dropPrepared(): Promise<void> {
    return this.ahead.dropAll();
  }

  /** Only a record on disk is cached: the cache never answers what the disk does not hold. */
  private remember(key: string, record: TicketRecord): void {
    if (record.status !== 'queued' && record.status !== 'running' && record.output.length <= SYNC_IO_LIMIT) this.finished.set(key, record);
    else this.finished.delete(key);
  }

  private writeSyncNow(record: TicketRecord, text: string): void {
    const final = this.layout.ticketFile(record.session, record.ticket);
    const ready = this.ahead.take(aheadKeyOf(record));
    if (ready !== undefined && writeReadySync(ready, text, final)) return;
    const tmp = this.layout.tempFile(record.session, record.ticket);
    try {
      this.writeFileCreatingDir(tmp, text);
      fs.renameSync(tmp, final);
    } catch (error) {
      fs.rmSync(tmp, { force: true });
      throw error;
    }
  }

  /**
   * An operator may delete an idle session's directory while the server runs: the next
   * ticket makes it again. Numbers go on from the last one handed out, never reused.
   */
  private writeFileCreatingDir(file: string, text: string): void {
    try {
      fs.writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if (!isMissing(error)) throw error;
      fs.mkdirSync(path.dirname(file), { mode: 0o700 });
      fs.writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
    }
  }

  private async writeNow(record: TicketRecord, text: string): Promise<void> {
    const final = this.layout.ticketFile(record.session, record.ticket);
    // A large record goes through the thread pool anyway: a file made ahead is not needed.
    this.ahead.drop(aheadKeyOf(record));
    const tmp = this.layout.tempFile(record.session, record.ticket);
    try {
      await fs.promises.writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
      await fs.promises.rename(tmp, final);
    } catch (error) {
      await fs.promises.rm(tmp, { force: true });
      throw error;
    }
  }

  /** Every session directory, by name. Files, links and dot-entries (audit log, private files) are skipped. */
  async listSessions(): Promise<string[]> {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(this.layout.root, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
    return entries.filter((entry) => entry.isDirectory() && SESSION_NAME.test(entry.name)).map((entry) => entry.name);
  }
}
