// The real daemon for the bench and soak scripts: dist/server.js on a free loopback port, in a
// temporary directory with its own SESSIONS_DIR and a random HASH, logging to a file there as
// it would to a journal (reading its log through a pipe would spend the load generator's CPU).
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SERVER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'server.js');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts the daemon with `env` on top of the defaults; `prepare(sessionsDir)` may fill the
 * sessions directory first. Resolves once it listens. With `keepDir`, stop() leaves its
 * directory for the caller to remove.
 */
export async function startDaemon({ env = {}, prepare, prefix = 'llmass-bench-', nodeArgs = [], keepDir = false } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const sessionsDir = path.join(dir, 'sessions');
  const hash = crypto.randomBytes(30).toString('base64url');
  if (prepare) await prepare(sessionsDir);
  const logFile = path.join(dir, 'daemon.log');
  const logFd = fs.openSync(logFile, 'w');
  const proc = spawn(process.execPath, [...nodeArgs, SERVER], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME ?? '/root', HASH: hash, PORT: '0', SESSIONS_DIR: sessionsDir, ...env },
    stdio: ['ignore', logFd, 'inherit'],
  });
  fs.closeSync(logFd);
  let exitedEarly = false;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  void exited.then(() => (exitedEarly = true));
  let port;
  while (port === undefined) {
    const match = /"msg":"listening","url":"http:\/\/[^"]+:(\d+)"/.exec(fs.readFileSync(logFile, 'utf8'));
    if (match) port = Number(match[1]);
    else if (exitedEarly) throw new Error(`daemon exited:\n${fs.readFileSync(logFile, 'utf8')}`);
    else await sleep(20);
  }
  return {
    pid: proc.pid,
    hash,
    dir,
    sessionsDir,
    base: `http://127.0.0.1:${port}`,
    url: (p, params = {}) => `/${p}?${new URLSearchParams({ hash, ...params })}`,
    /** SIGTERM, wait for the exit, remove the directory (unless kept). */
    async stop() {
      proc.kill('SIGTERM');
      await exited;
      if (!keepDir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
