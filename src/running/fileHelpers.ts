// The host's files for /file and /upload, touched only by a process of the session's command
// user (readFile.bash, writeFile.bash, through setpriv as a command is), never by the server:
// what the command user may not read or write, these may not either, and the server's own
// files stay as far out of reach as they are from /shell. Each helper says on fd 3 what it
// found; the server believes nothing else.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { asCommandUser, environmentThroughSetpriv, type CommandUser } from './commandUser.js';
import { signalGroup } from './processGroups.js';

const READ_SCRIPT = fileURLToPath(new URL('./readFile.bash', import.meta.url));
const WRITE_SCRIPT = fileURLToPath(new URL('./writeFile.bash', import.meta.url));
/** How long a helper may take to say what it found: a hung file system must not hold a request for ever. */
const ANSWER_WITHIN_MS = 10_000;

export type FileRefusal = 'missing' | 'denied' | 'directory' | 'special' | 'nocwd' | 'nodir' | 'failed' | 'timeout';

export type ReadOutcome =
  | { readonly kind: 'ok'; readonly size: number; readonly mtime: number; readonly inode: number; readonly bytes: Readable; end(): void }
  | { readonly kind: FileRefusal };

export type WriteOutcome = { readonly kind: 'ok'; readonly bytes: number } | { readonly kind: FileRefusal };

const REFUSALS: ReadonlySet<string> = new Set<FileRefusal>(['missing', 'denied', 'directory', 'special', 'nocwd', 'nodir', 'failed']);

/** The helper's one line on fd 3, or undefined when it said nothing in time (it is then ended). */
function firstLine(child: ChildProcess, withinMs = ANSWER_WITHIN_MS): Promise<string | undefined> {
  return new Promise((resolve) => {
    const status = child.stdio[3] as Readable | null;
    let text = '';
    const finish = (line: string | undefined): void => {
      clearTimeout(timer);
      status?.removeAllListeners('data');
      resolve(line);
    };
    const timer = setTimeout(() => {
      end(child);
      finish(undefined);
    }, withinMs);
    status?.setEncoding('utf8');
    status?.on('data', (chunk: string) => {
      text += chunk;
      const newline = text.indexOf('\n');
      if (newline !== -1) finish(text.slice(0, newline));
    });
    // The helper closes fd 3 once it has said what it found (or by exiting): its whole line is in.
    status?.once('end', () => finish(text.includes('\n') ? text.slice(0, text.indexOf('\n')) : undefined));
    if (status === null || status === undefined) child.once('exit', () => finish(undefined));
  });
}

/** Ends a helper and whatever it started (its own process group). */
function end(child: ChildProcess): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) signalGroup(child.pid, 'SIGKILL');
}

export class FileHelpers {
  private spawnHelper(user: CommandUser | null, script: string, args: readonly string[], stdin: 'ignore' | 'pipe'): ChildProcess {
    const { program, args: argv } = asCommandUser(['/bin/bash', script, ...args], user);
    const env = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', HOME: user?.home ?? '/' };
    return spawn(program, argv, {
      cwd: '/',
      env: user === null ? env : environmentThroughSetpriv(env),
      stdio: [stdin, 'pipe', 'ignore', 'pipe'],
      // Its own process group, so that ending it ends the tail and head it runs.
      detached: true,
    });
  }

  /**
   * Opens `path` (relative to `cwd`) as the command user; on `ok`, `bytes` streams `count` bytes
   * (null: all) from `offset`, or with `suffix` the last `count` bytes.
   */
  async read(user: CommandUser | null, cwd: string, path: string, part: { readonly offset: number; readonly count: number | null } | { readonly suffix: number }): Promise<ReadOutcome> {
    const [offset, count] = 'suffix' in part ? [`-${part.suffix}`, ''] : [String(part.offset), part.count === null ? '' : String(part.count)];
    const child = this.spawnHelper(user, READ_SCRIPT, [cwd, path, offset, count], 'ignore');
    child.on('error', () => undefined);
    const line = await firstLine(child);
    const [word, ...fields] = (line ?? 'timeout').split(' ');
    if (word === 'ok' && child.stdout !== null) {
      const [size, mtime, inode] = fields.map(Number);
      return { kind: 'ok', size: size ?? 0, mtime: mtime ?? 0, inode: inode ?? 0, bytes: child.stdout, end: () => end(child) };
    }
    end(child);
    return { kind: word !== undefined && REFUSALS.has(word) ? (word as FileRefusal) : 'timeout' };
  }

  /** Writes `content` to `path` (relative to `cwd`) as the command user: a temp file beside it, renamed over it. */
  async write(user: CommandUser | null, cwd: string, path: string, mode: string, content: Readable, size: number): Promise<WriteOutcome> {
    const child = this.spawnHelper(user, WRITE_SCRIPT, [cwd, path, mode], 'pipe');
    child.on('error', () => undefined);
    // A helper that refuses before reading its input closes stdin: that is not an error here.
    child.stdin?.on('error', () => undefined);
    if (child.stdin !== null) content.pipe(child.stdin);
    // It answers once all of it is written: give it time for the size, at 20 MB/s at the least.
    const line = await firstLine(child, ANSWER_WITHIN_MS + Math.ceil(size / (20 * 1024 * 1024)) * 1000);
    content.unpipe();
    const [word, bytes] = (line ?? 'timeout').split(' ');
    if (word === 'ok') return { kind: 'ok', bytes: Number(bytes) };
    end(child);
    return { kind: word !== undefined && REFUSALS.has(word) ? (word as FileRefusal) : 'timeout' };
  }
}
