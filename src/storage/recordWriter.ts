// The one record writer: how a `<n>.ticket` file is replaced, and how durable it then is.
//
// The rule. A record is written whole to a temp file (a new one, created exclusively, mode 0600,
// never through a planted link; or, for a final record, the session's spare: a record this
// writer replaced, reached only by its temp name, spareRecords.ts) and renamed over
// `<n>.ticket`: a reader, and the server after its own
// crash (the page cache outlives the process), sees the old record or the new one, never half
// of one. Writes to one ticket land in the order they were asked for. Records are NOT fsynced:
// fsyncing the file and its directory takes a record's write and rename from about 0.3 ms to
// about 0.6 ms on these disks (measured with 2 KB records on ext4), on the event loop, on the
// path of every submission and every result; what it would add is survival of a crash of the
// host itself (power, kernel). After such a crash a record written just before may be missing
// (the ticket keeps its queued record, which the next start marks interrupted) or empty (read
// back as damaged, 422): never a state the server did not keep.
//
// How a record is written depends on its size only: a small one (most) synchronously, a few
// kilobytes into the page cache, far less than the four thread-pool
// round trips of an async write; a large one (big output) through the thread pool, so that it
// never blocks other requests. When depends on what it must follow: the ticket's earlier writes,
// and the temp file made ahead for it (tempFiles.ts) while that is still being made, as making
// another would take as long again on the event loop. With nothing to follow, a small record is
// on disk before write() returns.
import fs from 'node:fs';
import path from 'node:path';
import { isMissing } from './safeFiles.js';
import { isFinished, isWaiting, type TicketRecord } from '../protocol/types.js';
import type { RecordCache } from './recordCache.js';
import { SpareRecords } from './spareRecords.js';
import { TempFilesAhead, type ReadyTempFile } from './tempFiles.js';
import type { SessionLayout } from './sessionLayout.js';

/** Records up to this size are written and read synchronously. */
export const SYNC_IO_LIMIT = 64 * 1024;

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
  return aheadKey(record.session, isWaiting(record) ? 'next' : record.ticket);
}

export class RecordWriter {
  /** Per ticket: the last write asked for, which the next one follows. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly ahead = new TempFilesAhead();
  /** Replaced records kept for the session's next final record (spareRecords.ts). */
  private readonly spares: SpareRecords;

  constructor(
    private readonly layout: SessionLayout,
    private readonly finished: RecordCache,
  ) {
    this.spares = new SpareRecords(layout, SYNC_IO_LIMIT);
  }

  /** Replaces the record's `<n>.ticket` (see the rule above); resolves once it is in place. */
  write(record: TicketRecord): Promise<void> {
    const key = `${record.session}/${record.ticket}`;
    const text = JSON.stringify(record, null, 1) + '\n';
    const small = text.length <= SYNC_IO_LIMIT;
    const after = this.chains.get(key) ?? (small ? this.ahead.whenMade(aheadKeyOf(record)) : undefined);
    if (after === undefined && small) {
      try {
        this.writeSmall(record, text);
      } catch (error) {
        return Promise.reject(error);
      }
      this.remember(key, record);
      return Promise.resolve();
    }
    const writeIt = small ? async () => this.writeSmall(record, text) : () => this.writeLarge(record, text);
    const written = (after ?? Promise.resolve()).then(writeIt).then(() => this.remember(key, record));
    const settled = written.catch(() => undefined);
    this.chains.set(key, settled);
    void settled.then(() => {
      if (this.chains.get(key) === settled) this.chains.delete(key);
    });
    return written;
  }

  /**
   * The temp file the ticket's final record will be written to (tempFiles.ts), called when its
   * command starts: the one made while the session was idle, else one created now, off the
   * request's path.
   */
  prepareNextWrite(session: string, ticket: number): void {
    if (this.ahead.rekey(aheadKey(session, 'next-final'), aheadKey(session, ticket)) || this.spares.has(session)) return;
    this.ahead.prepare(aheadKey(session, ticket), this.layout.tempFile(session, ticket));
  }

  /**
   * The same for the session's next ticket, while the session is idle: the temp files of its
   * queued record and of its final record (prepareNextWrite takes the latter, once it starts).
   */
  prepareNextTicket(session: string): void {
    this.ahead.prepare(aheadKey(session, 'next'), this.layout.nextTicketTempFile(session));
    // The final record goes into the session's spare, when it has one.
    if (!this.spares.has(session)) this.ahead.prepare(aheadKey(session, 'next-final'), this.layout.nextTicketTempFile(session));
  }

  /** Removes the temp files made ahead and the spares (shutdown). */
  dropPrepared(): Promise<void> {
    this.spares.dropAll();
    return this.ahead.dropAll();
  }

  /** Only a record on disk is cached: the cache never answers what the disk does not hold. */
  private remember(key: string, record: TicketRecord): void {
    if (isFinished(record) && record.output.length <= SYNC_IO_LIMIT) this.finished.set(key, record);
    else this.finished.delete(key);
  }

  private writeSmall(record: TicketRecord, text: string): void {
    const final = this.layout.ticketFile(record.session, record.ticket);
    const replacing = isFinished(record);
    if (replacing && this.spares.replace(record.session, final, text)) {
      this.ahead.drop(aheadKeyOf(record));
      return;
    }
    // The record this one replaces is kept as the session's spare (once this one is in place).
    const kept = replacing ? this.spares.keepReplaced(record.session, final) : undefined;
    const ready = this.ahead.take(aheadKeyOf(record));
    if (ready !== undefined && writeReadySync(ready, text, final)) {
      kept?.(true);
      return;
    }
    const tmp = this.layout.tempFile(record.session, record.ticket);
    try {
      this.writeFileCreatingDir(tmp, text);
      fs.renameSync(tmp, final);
    } catch (error) {
      fs.rmSync(tmp, { force: true });
      kept?.(false);
      throw error;
    }
    kept?.(true);
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

  private async writeLarge(record: TicketRecord, text: string): Promise<void> {
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
}
