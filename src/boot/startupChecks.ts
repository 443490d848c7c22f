// Start-up checks that keep the server's state out of the commands' reach: SESSIONS_DIR and
// the audit log private to the server (tightened, with a log line, if they are not), .env and
// KEYS_FILE private, and, with COMMAND_USER, the code (server and prelude) not writable by that user.
// Also the first lines the server prints: who commands run as.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandUser } from '../running/commandUser.js';
import { ConfigError, type Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';

/** Makes `target` exist with `mode`, or tightens it to `mode` if others could reach it. */
function keepPrivate(target: string, mode: number, kind: 'dir' | 'file', logger: Logger): void {
  let stats: fs.Stats;
  try {
    stats = fs.lstatSync(target);
  } catch {
    if (kind === 'dir') fs.mkdirSync(target, { recursive: true, mode });
    return;
  }
  if (stats.isSymbolicLink()) throw new ConfigError(`${target} is a symbolic link: give the real path`);
  if ((stats.mode & 0o077) !== 0) {
    fs.chmodSync(target, mode);
    logger.info('tightened permissions: others could reach the server\'s files', { path: target, was: (stats.mode & 0o777).toString(8), now: mode.toString(8) });
  }
}

/** The server's private files as `securePrivateFiles` wants them, and their modes. */
function privateFiles(config: Config, cwd: string): Array<readonly [string, number, 'dir' | 'file']> {
  const files: Array<readonly [string, number, 'dir' | 'file']> = [
    [config.sessionsDir, 0o700, 'dir'],
    [path.dirname(config.auditLog), 0o700, 'dir'],
    [config.auditLog, 0o600, 'file'],
    [path.join(cwd, '.env'), 0o600, 'file'],
  ];
  if (config.keysFile !== null) files.push([config.keysFile, 0o600, 'file']);
  return files;
}

/** What securePrivateFiles would have to change, each with its fix; it changes nothing (llmass check). */
export function privateFileProblems(config: Config, cwd: string): string[] {
  const problems: string[] = [];
  for (const [target, mode] of privateFiles(config, cwd)) {
    const stats = fs.lstatSync(target, { throwIfNoEntry: false });
    if (stats === undefined) continue;
    if (stats.isSymbolicLink()) problems.push(`${target} is a symbolic link. Fix: give the real path`);
    else if ((stats.mode & 0o077) !== 0) problems.push(`others can reach ${target} (mode ${(stats.mode & 0o777).toString(8)}). Fix: chmod ${mode.toString(8)} ${target} (the server does it at start)`);
  }
  return problems;
}

export function securePrivateFiles(config: Config, cwd: string, logger: Logger): void {
  keepPrivate(config.sessionsDir, 0o700, 'dir', logger);
  keepPrivate(path.dirname(config.auditLog), 0o700, 'dir', logger);
  keepPrivate(config.auditLog, 0o600, 'file', logger);
  keepPrivate(path.join(cwd, '.env'), 0o600, 'file', logger);
  if (config.keysFile !== null) keepPrivate(config.keysFile, 0o600, 'file', logger);
}

/** The files a command must not be able to change: the server's code. */
function codeFiles(): string[] {
  const dist = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
  return [path.dirname(dist), dist, path.join(dist, 'server.js')];
}

/** With COMMAND_USER, refuses to start when that user could change the code it is confined by. */
export function checkCodeOutOfReach(user: CommandUser): void {
  for (const file of codeFiles()) {
    let stats: fs.Stats;
    try {
      stats = fs.statSync(file);
    } catch {
      continue;
    }
    const writable = stats.uid === user.uid || (stats.mode & 0o002) !== 0 || (stats.gid === user.gid && (stats.mode & 0o020) !== 0);
    if (writable) {
      throw new ConfigError(`${file} is writable by the command user ${user.name}: its commands could change the server's code; make the code owned by root and not writable by others (see Deploy in the README)`);
    }
  }
}

/** What the first lines of the server's output say about who commands run as. */
export function whoRunsCommands(user: CommandUser | null): { level: 'info' | 'warn'; message: string } {
  if (user !== null) return { level: 'info', message: `commands run as ${user.name} (uid ${user.uid}), without capabilities, with no_new_privs` };
  const uid = process.getuid?.() ?? -1;
  if (uid === 0) {
    return {
      level: 'warn',
      message: 'commands run as root, the server\'s own user, with no confinement: they can read the secret and change the server. Set COMMAND_USER to an unprivileged user.',
    };
  }
  return {
    level: 'info',
    message: `commands run as the server's own user (uid ${uid}): they can read its secret and change its files. Fine on a laptop; on a shared host set COMMAND_USER.`,
  };
}
