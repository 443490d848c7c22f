// Uploads on their way in: the bytes received so far of each upload, kept in the server's own
// private directory (SESSIONS_DIR/.llmass/uploads, never where the command user can reach it)
// until the last chunk, when the whole file, its size and its sha256 checked, goes to the
// command user's writer (running/fileHelpers.ts). Chunks are idempotent by offset: one already
// received is acknowledged without being written again, one beyond what was received is
// refused with the offset expected. Unfinished uploads are dropped after UNFINISHED_MS and at
// start (reset()); finished ones are remembered a while, so that a re-fetched last chunk is answered the same.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** An unfinished upload untouched this long is dropped. */
export const UNFINISHED_MS = 60 * 60 * 1000;
/** A finished upload is remembered this long, for re-fetched last chunks. */
const FINISHED_MS = 10 * 60 * 1000;

/** What an answer says of an upload. */
export interface UploadState {
  readonly bytes: number;
  /** sha256 (hex) of the bytes received so far; of the whole file once done. */
  readonly sha256: string;
  readonly done: boolean;
}

export type ChunkResult =
  | { readonly kind: 'received'; readonly state: UploadState; readonly written: boolean }
  | { readonly kind: 'out-of-order'; readonly expected: number }
  | { readonly kind: 'too-large'; readonly limit: number };

interface Unfinished {
  readonly file: string;
  bytes: number;
  readonly hash: crypto.Hash;
  touched: number;
}

interface Finished extends UploadState {
  readonly finishedAt: number;
}

export class Uploads {
  private readonly unfinished = new Map<string, Unfinished>();
  private readonly finished = new Map<string, Finished>();

  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * At start, once this server holds the sessions directory's lock: what a previous run left
   * unfinished cannot be finished (nobody remembers its offsets), so it goes.
   */
  reset(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /** The upload's id: one per key, session and path, so that two agents never mix their chunks. */
  static idOf(key: string, session: string, target: string): string {
    return crypto.createHash('sha256').update(`${key}\0${session}\0${target}`).digest('hex').slice(0, 32);
  }

  /** A finished upload of this id, if one is remembered. */
  finishedState(id: string): UploadState | undefined {
    return this.finished.get(id);
  }

  /** Appends `data` at `offset` (see the module comment for what is written and what refused). */
  chunk(id: string, offset: number, data: Buffer): ChunkResult {
    let entry = this.unfinished.get(id);
    if (entry === undefined) {
      if (offset !== 0) return { kind: 'out-of-order', expected: 0 };
      entry = this.begin(id);
    }
    entry.touched = this.now();
    if (offset < entry.bytes || data.length === 0) return { kind: 'received', state: stateOf(entry), written: false };
    if (offset > entry.bytes) return { kind: 'out-of-order', expected: entry.bytes };
    if (entry.bytes + data.length > this.maxBytes) {
      this.drop(id);
      return { kind: 'too-large', limit: this.maxBytes };
    }
    fs.appendFileSync(entry.file, data);
    entry.hash.update(data);
    entry.bytes += data.length;
    return { kind: 'received', state: stateOf(entry), written: true };
  }

  /** Starts `id` afresh (PUT: the body is the whole file), dropping what was received of it. */
  begin(id: string): Unfinished {
    this.drop(id);
    this.finished.delete(id);
    const file = path.join(this.dir, `${id}.part`);
    fs.writeFileSync(file, '', { mode: 0o600 });
    const entry: Unfinished = { file, bytes: 0, hash: crypto.createHash('sha256'), touched: this.now() };
    this.unfinished.set(id, entry);
    return entry;
  }

  /** What was received of `id`: its spool file, size and sha256; undefined when nothing was. */
  received(id: string): { readonly file: string; readonly state: UploadState } | undefined {
    const entry = this.unfinished.get(id);
    return entry === undefined ? undefined : { file: entry.file, state: stateOf(entry) };
  }

  /** The upload is in place: its spool goes, its state is remembered a while. */
  complete(id: string): UploadState | undefined {
    const entry = this.unfinished.get(id);
    if (entry === undefined) return undefined;
    const state: Finished = { ...stateOf(entry), done: true, finishedAt: this.now() };
    this.drop(id);
    this.finished.set(id, state);
    return state;
  }

  drop(id: string): void {
    const entry = this.unfinished.get(id);
    if (entry === undefined) return;
    this.unfinished.delete(id);
    fs.rmSync(entry.file, { force: true });
  }

  /** Drops unfinished uploads untouched for UNFINISHED_MS, and forgets old finished ones. */
  sweep(): void {
    const now = this.now();
    for (const [id, entry] of this.unfinished) if (now - entry.touched >= UNFINISHED_MS) this.drop(id);
    for (const [id, state] of this.finished) if (now - state.finishedAt >= FINISHED_MS) this.finished.delete(id);
  }

  /** How many unfinished uploads are kept (for tests). */
  get size(): number {
    return this.unfinished.size;
  }
}

function stateOf(entry: Unfinished): UploadState {
  return { bytes: entry.bytes, sha256: entry.hash.copy().digest('hex'), done: false };
}
