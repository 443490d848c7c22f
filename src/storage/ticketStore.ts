// The ticket store: session directories under SESSIONS_DIR, ticket numbers, and `<n>.ticket`
// records, written by the one record writer (recordWriter.ts, which states the durability rule)
// and read back checked (recordReader.ts). It knows nothing of HTTP or of running commands.
import fs from 'node:fs';
import { errorCode, isMissing, isRealDirectory, NotAFile } from './safeFiles.js';
import type { OutputPlan } from '../protocol/outputParts.js';
import type { TicketRecord } from '../protocol/types.js';
import { RecordCache } from './recordCache.js';
import { RecordReader, type StoredTicket } from './recordReader.js';
import { RecordWriter } from './recordWriter.js';
import { SESSION_NAME, SessionLayout } from './sessionLayout.js';

/** Memory for finished records kept to answer reads without the disk (small records only). */
const RECORD_CACHE_BYTES = 32 * 1024 * 1024;

/** What the store keeps in memory per session: the last number handed out. */
export interface SessionIndex {
  readonly name: string;
  last: number;
}

export class TicketStore {
  private readonly indexes = new Map<string, Promise<SessionIndex>>();
  private readonly reader: RecordReader;
  private readonly writer: RecordWriter;

  constructor(
    readonly layout: SessionLayout,
    /** A record file larger than this cannot be one of ours: it is damaged, and not read. */
    maxRecordBytes: number,
  ) {
    const finished = new RecordCache(RECORD_CACHE_BYTES);
    this.reader = new RecordReader(layout, maxRecordBytes, finished);
    this.writer = new RecordWriter(layout, finished);
  }

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
  read(session: string, ticket: number, plan: OutputPlan): Promise<StoredTicket | undefined> {
    return this.reader.read(session, ticket, plan);
  }

  /** Replaces the ticket's record (recordWriter.ts: atomic, in order, not fsynced). */
  write(record: TicketRecord): Promise<void> {
    return this.writer.write(record);
  }

  /** The temp file the ticket's final record will go to, made while its command runs. */
  prepareNextWrite(session: string, ticket: number): void {
    this.writer.prepareNextWrite(session, ticket);
  }

  /** The temp files of the session's next ticket, made while the session is idle. */
  prepareNextTicket(session: string): void {
    this.writer.prepareNextTicket(session);
  }

  /** Removes the temp files made ahead (shutdown). */
  dropPrepared(): Promise<void> {
    return this.writer.dropPrepared();
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
