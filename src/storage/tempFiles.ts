// Temp files made ahead. A record is written to a new temp file and renamed into place; on ext4,
// giving a file a new inode costs 0.6 to 5 ms (measured here) when none was freed just before,
// and a ticket's final record always needs one (its queued record's inode stays as the ticket
// file until the final one replaces it). So the temp files records will go to are created off
// the request's path, in the thread pool, and kept open: the next ticket's two (queued and
// final) while its session is idle, a final record's while its command runs when it had none
// (ticketStore.ts asks for them).
import fs from 'node:fs';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;

/** A temp file created ahead, open for writing. */
export interface ReadyTempFile {
  readonly file: string;
  readonly fd: number;
}

interface Making {
  readonly file: string;
  fd: number | undefined;
  /** Settles once the file is made and kept, or not made, or made and removed. */
  readonly settled: Promise<void>;
}

/** Files kept ahead at most (each holds an fd): beyond it the oldest is removed. */
const MAX_AHEAD = 64;

export class TempFilesAhead {
  private readonly made = new Map<string, Making>();
  /** Removals under way (files given up): waited for at shutdown, so none is left behind. */
  private readonly removing = new Set<Promise<void>>();

  constructor(private readonly max = MAX_AHEAD) {}

  /** Starts creating `file` (exclusively: a planted entry makes it fail) for the write named `key`. */
  prepare(key: string, file: string): void {
    if (this.made.has(key)) return;
    let settle: () => void = () => undefined;
    const making: Making = { file, fd: undefined, settled: new Promise<void>((resolve) => (settle = resolve)) };
    this.made.set(key, making);
    for (const [oldest] of this.made) {
      if (this.made.size <= this.max) break;
      this.drop(oldest);
    }
    fs.open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600, (error, fd) => {
      // Under its key, or under the one it was handed to meanwhile (rekey).
      const wantedAs = this.keyOf(making);
      const wanted = wantedAs !== undefined;
      if (error !== null) {
        // No room, or the directory is gone: the write makes its own file as usual.
        if (wantedAs !== undefined) this.made.delete(wantedAs);
        settle();
      } else if (wanted) {
        making.fd = fd;
        settle();
      } else {
        discard({ file, fd }, settle);
      }
    });
  }

  /**
   * Settles once the file for `key` is made (or failed); undefined when there is none being made.
   * A write waits for it rather than making a file of its own: that would take as long again.
   */
  whenMade(key: string): Promise<void> | undefined {
    const making = this.made.get(key);
    return making === undefined || making.fd !== undefined ? undefined : making.settled;
  }

  /** Hands the file made (or being made) for `from` to the write named `to`; false if there is none. */
  rekey(from: string, to: string): boolean {
    const making = this.made.get(from);
    if (making === undefined || this.made.has(to)) return false;
    this.made.delete(from);
    this.made.set(to, making);
    return true;
  }

  /**
   * The file made for `key`, if it is ready; the caller then owns it. One still being made is
   * given up (it is removed once made), and the write makes its own.
   */
  take(key: string): ReadyTempFile | undefined {
    const making = this.made.get(key);
    if (making === undefined) return undefined;
    this.made.delete(key);
    if (making.fd !== undefined) return { file: making.file, fd: making.fd };
    // Its callback removes it once made, as no longer wanted.
    this.track(making.settled);
    return undefined;
  }

  /** Removes the file made for `key` (one still being made is removed once made). */
  drop(key: string): void {
    const ready = this.take(key);
    if (ready !== undefined) this.track(new Promise<void>((resolve) => discard(ready, resolve)));
  }

  private keyOf(making: Making): string | undefined {
    for (const [key, entry] of this.made) if (entry === making) return key;
    return undefined;
  }

  private track(removal: Promise<void>): void {
    this.removing.add(removal);
    void removal.then(() => this.removing.delete(removal));
  }

  /** Removes every file made ahead, including those still being made or being removed (shutdown). */
  async dropAll(): Promise<void> {
    for (const [key, making] of [...this.made]) {
      if (making.fd === undefined) {
        this.take(key);
        continue;
      }
      this.made.delete(key);
      fs.closeSync(making.fd);
      fs.rmSync(making.file, { force: true });
    }
    await Promise.all([...this.removing]);
  }

  /** How many are made or being made (for tests). */
  get size(): number {
    return this.made.size;
  }
}

/** Closes and removes a temp file that will not be used. */
export function discard(ready: ReadyTempFile, then: () => void = () => undefined): void {
  fs.close(ready.fd, () => fs.rm(ready.file, { force: true }, () => then()));
}
