// Spare record files. A ticket's final record replaces its queued one: the queued record's inode
// was freed then, while the final record needed a new one. On this ext4 a new inode costs about
// 0.2 ms of system CPU, and over 1 ms when many were freed lately (the allocator passes over
// recently freed inodes, so every ticket that frees one makes the next allocations slower;
// measured with perf: find_inode_bit, recently_deleted). So the record being replaced keeps a
// second name (linked before the rename) and becomes the session's spare, and the session's next
// final record is written into it: a ticket then makes one inode (its queued record's) and frees
// none.
//
// Why rewriting an inode is safe here: a spare is reached only through its temp name
// (`.next.ticket.<pid>.<k>.tmp`, removed at shutdown and at the next start); it is rewritten whole
// (written from 0, then truncated) before the rename shows it as `<n>.ticket`, so a reader sees
// the old record or the new one, as with a new file. Only a record that was small (this server
// reads such a record in one synchronous call, so no read of ours spans a rewrite) and had no
// other name (nlink 1: an operator's hard link, a backup's, is never written to) is kept. A reader
// outside the server that holds a replaced record open for longer than a ticket's turn may see
// it change: the README says so.
import fs from 'node:fs';
import type { SessionLayout } from './sessionLayout.js';

const { O_WRONLY, O_NOFOLLOW } = fs.constants;

export class SpareRecords {
  /** Per session: the path of its spare record file. */
  private readonly spares = new Map<string, string>();
  /** After dropAll (shutdown): a record written later is written the usual way, and none is kept. */
  private closed = false;

  constructor(
    private readonly layout: SessionLayout,
    /** The largest record kept as a spare (the writer's synchronous limit). */
    private readonly maxBytes: number,
  ) {}

  has(session: string): boolean {
    return this.spares.has(session);
  }

  /**
   * Writes `text` into the session's spare and renames it over `final`, keeping the record it
   * replaces as the next spare. False when there was no spare or it could not be used (it is
   * removed then): the caller writes the usual way.
   */
  replace(session: string, final: string, text: string): boolean {
    const spare = this.spares.get(session);
    if (spare === undefined) return false;
    this.spares.delete(session);
    if (!rewrite(spare, text)) {
      fs.rmSync(spare, { force: true });
      return false;
    }
    const next = this.secondName(session, final);
    try {
      fs.renameSync(spare, final);
    } catch {
      fs.rmSync(spare, { force: true });
      if (next !== undefined) fs.rmSync(next, { force: true });
      return false;
    }
    if (next !== undefined) this.spares.set(session, next);
    return true;
  }

  /** Before `final` is replaced the usual way: the record it holds becomes the session's spare, if it may. */
  keepReplaced(session: string, final: string): (replaced: boolean) => void {
    if (this.closed || this.spares.has(session)) return () => undefined;
    const next = this.secondName(session, final);
    if (next === undefined) return () => undefined;
    // Told whether the replacement is in place: if not, the record keeps its one name.
    return (replaced) => {
      if (replaced) this.spares.set(session, next);
      else fs.rmSync(next, { force: true });
    };
  }

  /** Removes every spare (shutdown). */
  dropAll(): void {
    this.closed = true;
    for (const spare of this.spares.values()) fs.rmSync(spare, { force: true });
    this.spares.clear();
  }

  /** A second name for the record in `final`, if it may be rewritten later (small, one name). */
  private secondName(session: string, final: string): string | undefined {
    const stat = fs.lstatSync(final, { throwIfNoEntry: false });
    if (stat === undefined || !stat.isFile() || stat.nlink !== 1 || stat.size > this.maxBytes) return undefined;
    const name = this.layout.nextTicketTempFile(session);
    try {
      fs.linkSync(final, name);
      return name;
    } catch {
      return undefined;
    }
  }
}

/** Writes `text` over the whole of `file`, a regular file with this one name; false if it is not, or the write failed. */
function rewrite(file: string, text: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, O_WRONLY | O_NOFOLLOW);
  } catch {
    return false;
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile() || stat.nlink !== 1) return false;
    fs.writeFileSync(fd, text);
    fs.ftruncateSync(fd, Buffer.byteLength(text));
    return true;
  } catch {
    return false;
  } finally {
    fs.closeSync(fd);
  }
}
