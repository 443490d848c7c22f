// The ticket store: session directories under SESSIONS_DIR, ticket numbers, and `<n>.ticket`
// files replaced atomically. It knows nothing of HTTP or of running commands.
import fs from 'node:fs';
import path from 'node:path';
import type { FinishedTicket, TicketRecord } from './protocol.js';
import { isFinal } from './protocol.js';
import { RecordCache } from './recordCache.js';

export const SESSION_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const TICKET_FILE = /^([1-9][0-9]*)\.ticket$/;
/** Records up to this size are written and read synchronously (see write() and readSmallFileSync()). */
const SYNC_IO_LIMIT = 64 * 1024;
/** Memory for finished records kept to answer reads without the disk. */
const RECORD_CACHE_BYTES = 32 * 1024 * 1024;

/** What the store keeps in memory per session: the last number handed out. */
export interface SessionIndex {
  readonly name: string;
  readonly dir: string;
  last: number;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

/**
 * The file's text when it is at most `limit` bytes, read synchronously; undefined when it is
 * larger (the caller reads it through the thread pool). For the same reason small records are
 * written synchronously: open, fstat, read and close of a few kilobytes in the page cache take
 * tens of microseconds, while fs.promises.readFile makes five thread-pool round trips (about
 * 170 µs a file on these machines), which dominated a cold /history of thousands of tickets.
 */
function readSmallFileSync(file: string, limit: number): string | undefined {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size > limit) return undefined;
    // One byte more than the size: a file that grew since fstat (records are replaced by
    // rename, so it should not) is left to the caller's full read.
    const buffer = Buffer.allocUnsafe(size + 1);
    const n = fs.readSync(fd, buffer, 0, buffer.length, 0);
    return n > size ? undefined : buffer.toString('utf8', 0, n);
  } finally {
    fs.closeSync(fd);
  }
}

export class TicketStore {
  private readonly indexes = new Map<string, Promise<SessionIndex>>();
  private readonly writeChains = new Map<string, Promise<void>>();
  private tmpCounter = 0;
  private readonly finished = new RecordCache(RECORD_CACHE_BYTES);

  constructor(readonly root: string) {}

  sessionDir(session: string): string {
    // The one assertion at the filesystem boundary: a name that passed the handlers' check
    // cannot hold a separator or start with a dot, so the path stays inside SESSIONS_DIR.
    if (!SESSION_NAME.test(session)) throw new Error(`invalid session name reached the store: ${JSON.stringify(session)}`);
    return path.join(this.root, session);
  }

  ticketPath(session: string, ticket: number): string {
    return path.join(this.sessionDir(session), `${ticket}.ticket`);
  }

  /** Side files of a running ticket live beside its record and are removed when it finishes. */
  sidePath(session: string, ticket: number, kind: 'out' | 'state'): string {
    return path.join(this.sessionDir(session), `.${ticket}.${kind}`);
  }

  async exists(session: string): Promise<boolean> {
    try {
      return (await fs.promises.stat(this.sessionDir(session))).isDirectory();
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  /** The session's index, creating its directory when `create` is set. */
  async open(session: string, create: boolean): Promise<SessionIndex | undefined> {
    const known = this.indexes.get(session);
    if (known === undefined) return this.load(session, create);
    if (!create && !(await this.exists(session))) return undefined;
    return known;
  }

  private async load(session: string, create: boolean): Promise<SessionIndex | undefined> {
    const dir = this.sessionDir(session);
    if (create) {
      await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
    } else if (!(await this.exists(session))) {
      return undefined;
    }
    // Two requests may race here; the first promise stored wins and both share it, so the
    // counter is initialised once and numbers stay unique.
    const raced = this.indexes.get(session);
    if (raced) return raced;
    const pending = this.ticketNumbers(session).then((numbers) => ({ name: session, dir, last: numbers.at(-1) ?? 0 }));
    this.indexes.set(session, pending);
    pending.catch(() => this.indexes.delete(session));
    return pending;
  }

  /** Hands out the next number. Synchronous, so no two callers can get the same one. */
  allocate(index: SessionIndex): number {
    index.last += 1;
    return index.last;
  }

  /** The session's ticket numbers in ascending numeric order (100 after 99, not after 10). */
  async ticketNumbers(session: string): Promise<number[]> {
    let names: string[];
    try {
      names = await fs.promises.readdir(this.sessionDir(session));
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
    const numbers: number[] = [];
    for (const name of names) {
      const match = TICKET_FILE.exec(name);
      if (match?.[1] !== undefined) numbers.push(Number(match[1]));
    }
    return numbers.sort((a, b) => a - b);
  }

  async read(session: string, ticket: number): Promise<TicketRecord | undefined> {
    const key = `${session}/${ticket}`;
    const cached = this.finished.get(key);
    if (cached !== undefined) return cached;
    let text: string;
    try {
      const file = this.ticketPath(session, ticket);
      text = readSmallFileSync(file, SYNC_IO_LIMIT) ?? (await fs.promises.readFile(file, 'utf8'));
    } catch (error) {
      if (isMissing(error)) {
        // Gone from disk (an operator pruned the session): forget what we cached of it.
        this.finished.deleteSession(session);
        return undefined;
      }
      throw error;
    }
    const record = JSON.parse(text) as TicketRecord;
    if (isFinal(record.status)) this.finished.set(key, record as FinishedTicket);
    return record;
  }

  /**
   * Replaces `<n>.ticket` atomically: the record goes to a temp file which is then renamed
   * over the old one, so a reader sees the old or the new record, never half of one. Writes
   * to one ticket land in the order they were asked for.
   *
   * A small record (most are) is written synchronously: a few kilobytes into the page cache
   * take tens of microseconds, far less than the four thread-pool round trips of an async
   * write, which sit on the path of every submission and every result. A large record (big
   * output) goes through the thread pool so that it never blocks other requests.
   */
  write(record: TicketRecord): Promise<void> {
    const key = `${record.session}/${record.ticket}`;
    const text = JSON.stringify(record, null, 1) + '\n';
    if (isFinal(record.status)) this.finished.set(key, record as FinishedTicket);
    else this.finished.delete(key);
    const pending = this.writeChains.get(key);
    if (pending === undefined && text.length <= SYNC_IO_LIMIT) {
      try {
        this.writeSyncNow(record, text);
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const next = (pending ?? Promise.resolve()).then(() => this.writeNow(record, text));
    const settled = next.catch(() => undefined);
    this.writeChains.set(key, settled);
    void settled.then(() => {
      if (this.writeChains.get(key) === settled) this.writeChains.delete(key);
    });
    return next;
  }

  private tempPath(final: string, ticket: number): string {
    this.tmpCounter += 1;
    return path.join(path.dirname(final), `.${ticket}.ticket.${process.pid}.${this.tmpCounter}.tmp`);
  }

  private writeSyncNow(record: TicketRecord, text: string): void {
    const final = this.ticketPath(record.session, record.ticket);
    const tmp = this.tempPath(final, record.ticket);
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
      fs.writeFileSync(file, text, { mode: 0o600 });
    } catch (error) {
      if (!isMissing(error)) throw error;
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      fs.writeFileSync(file, text, { mode: 0o600 });
    }
  }

  private async writeNow(record: TicketRecord, text: string): Promise<void> {
    const final = this.ticketPath(record.session, record.ticket);
    const tmp = this.tempPath(final, record.ticket);
    try {
      await fs.promises.writeFile(tmp, text, { mode: 0o600 });
      await fs.promises.rename(tmp, final);
    } catch (error) {
      await fs.promises.rm(tmp, { force: true });
      throw error;
    }
  }

  /** Every session directory, by name. Files and dot-entries (audit log, private files) are skipped. */
  async listSessions(): Promise<string[]> {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(this.root, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return [];
      throw error;
    }
    return entries.filter((entry) => entry.isDirectory() && SESSION_NAME.test(entry.name)).map((entry) => entry.name);
  }
}
