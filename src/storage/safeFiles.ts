// Opening files in SESSIONS_DIR without trusting what is there: a symlink is never followed,
// a FIFO never blocks the server, and anything but a regular file is refused. Also the one
// place that tells a disk that is full from other storage failures.
import fs from 'node:fs';

const { O_RDONLY, O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

/** A file in SESSIONS_DIR that is not what the server writes there. */
export class NotAFile extends Error {}

export function isMissing(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'ENOENT';
}

/** ENOSPC or EDQUOT: no room for what was being written. */
export function isDiskFull(error: unknown): boolean {
  return error instanceof Error && 'code' in error && (error.code === 'ENOSPC' || error.code === 'EDQUOT');
}

export function errorCode(error: unknown): string {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : 'an I/O error';
}

/** Opens for reading; throws NotAFile for a symlink, directory, FIFO or device, ENOENT if absent. */
export function openRegularSync(file: string): number {
  let fd: number;
  try {
    fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ELOOP') throw new NotAFile('it is a symbolic link');
    throw error;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) throw new NotAFile('it is not a regular file');
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
  return fd;
}

/** Makes `file` anew for reading and writing, mode 0600, replacing whatever entry was there. */
export function createFreshSync(file: string): number {
  fs.rmSync(file, { force: true });
  return fs.openSync(file, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
}

/** Whether `dir` is a directory (following links): a place a command can start in. */
export function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/** Whether `dir` is a real directory (not a symlink to one). */
export async function isRealDirectory(dir: string): Promise<boolean> {
  try {
    return (await fs.promises.lstat(dir)).isDirectory();
  } catch (error) {
    if (isMissing(error) || errorCode(error) === 'ENOTDIR') return false;
    throw error;
  }
}

/** Bytes an unprivileged writer can still put on the filesystem holding `dir`; undefined if unknown. */
export function freeBytes(dir: string): number | undefined {
  try {
    const stats = fs.statfsSync(dir);
    return stats.bavail * stats.bsize;
  } catch {
    return undefined;
  }
}
