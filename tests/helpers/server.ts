// startServer(): the real daemon (`node dist/server.js`) in a child process, on port 0, in a
// temporary directory with its own SESSIONS_DIR. Every server and directory made here is
// cleaned up by stopAll(), which each test file calls in afterEach/afterAll.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcessTracking } from '../../src/running/processTracking.js';
import { TicketLimits } from '../../src/running/ticketLimits.js';
import { CgroupProcesses } from '../../src/running/ticketProcesses.js';
import { endAll } from '../../src/scheduling/leftovers.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SERVER_JS = path.join(ROOT, 'dist', 'server.js');

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface TestServer {
  readonly dir: string;
  readonly sessionsDir: string;
  readonly hash: string;
  readonly port: number;
  readonly base: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<Exit>;
  /** Everything the server printed on stdout and stderr so far. */
  output(): string;
  /** GET `path` with the hash added (unless `auth: false`). */
  get(pathAndQuery: string, options?: { auth?: boolean; headers?: Record<string, string>; method?: string }): Promise<Answer>;
  /** Builds `/path?hash=…&k=v` with each value URL-encoded once. */
  url(pathname: string, params?: Record<string, string | number>): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<Exit>;
}

const started = new Set<TestServer>();
const tempDirs = new Set<string>();

export function tempDir(prefix = 'llmass-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function randomHash(): string {
  return crypto.randomBytes(30).toString('base64url');
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Reuse a directory (for restarts); default: a new temp dir. */
  dir?: string;
  /** null: start with no HASH in the environment. */
  hash?: string | null;
  /** Resolve on exit instead of on listening (for start-up failures). */
  expectExit?: boolean;
  /** 'socket': the server listens on SOCKET (then `port` is 0 and `get` cannot be used). */
  listenOn?: 'tcp' | 'socket';
}

export function baseEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8' };
}

export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  const dir = options.dir ?? tempDir();
  const hash = options.hash === undefined ? randomHash() : options.hash;
  const env: Record<string, string> = {
    ...baseEnv(),
    PORT: '0',
    SESSIONS_DIR: path.join(dir, 'sessions'),
    ...(hash === null ? {} : { HASH: hash }),
    ...options.env,
  };
  return launch({ program: process.execPath, args: [SERVER_JS], cwd: dir, env, hash, expectExit: options.expectExit, listenOn: options.listenOn });
}

export interface Launch {
  readonly program: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Record<string, string>;
  /** The HASH it was given; null: the server writes one into cwd/.env at its first start. */
  readonly hash: string | null;
  readonly expectExit?: boolean;
  readonly listenOn?: 'tcp' | 'socket';
}

/** Starts a server process and resolves once it listens (or, with expectExit, once it exits). */
export async function launch(options: Launch): Promise<TestServer> {
  const { cwd: dir, env, hash } = options;
  const proc = spawn(options.program, [...options.args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let printed = '';
  const exited = new Promise<Exit>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const port = await new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      printed += chunk.toString('utf8');
      const match = /"msg":"listening","url":"http:\/\/[^"]+:(\d+)"/.exec(printed);
      if (match?.[1] !== undefined) resolve(Number(match[1]));
      if (options.listenOn === 'socket' && /"msg":"listening","socket":/.test(printed)) resolve(0);
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    void exited.then((exit) => {
      if (options.expectExit) resolve(0);
      else reject(new Error(`server exited before listening (${JSON.stringify(exit)}):\n${printed}`));
    });
  });
  const base = `http://127.0.0.1:${port}`;
  const effectiveHash = hash ?? readEnvHash(dir);
  const server: TestServer = {
    dir,
    sessionsDir: env.SESSIONS_DIR ?? path.join(dir, 'sessions'),
    hash: effectiveHash,
    port,
    base,
    proc,
    exited,
    output: () => printed,
    url(pathname, params = {}) {
      const query = Object.entries({ hash: effectiveHash, ...params })
        .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
        .join('&');
      return `${pathname}?${query}`;
    },
    async get(pathAndQuery, { auth = true, headers = {}, method = 'GET' } = {}) {
      let target = pathAndQuery;
      if (auth && !/[?&]hash=/.test(target)) target += `${target.includes('?') ? '&' : '?'}hash=${encodeURIComponent(effectiveHash)}`;
      const answer = await fetch(base + target, { method, headers });
      const text = await answer.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: answer.status, headers: answer.headers, text, json };
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
  };
  started.add(server);
  return server;
}

function readEnvHash(dir: string): string {
  try {
    const match = /^HASH=(.*)$/m.exec(fs.readFileSync(path.join(dir, '.env'), 'utf8'));
    return match?.[1] ?? '';
  } catch {
    return '';
  }
}

/**
 * Removes what a server left in the cgroup tree (one killed on purpose cannot remove its own
 * tickets' groups): its subtrees, named for its SESSIONS_DIR, in the v2 tracking hierarchy and
 * the v1 limit ones. What still runs in a group (a killed server's shell, on its way out) is
 * ended as the server ends a ticket's leftovers (endAll), and the group removed once it is empty.
 */
async function removeCgroupScope(sessionsDir: string): Promise<void> {
  const scope = ProcessTracking.scopeOf(sessionsDir);
  const base = ProcessTracking.detectBase();
  const scopes = [...(base === undefined ? [] : [path.join(base, scope)]), ...TicketLimits.basesFor(scope)];
  for (const dir of scopes) {
    if (!fs.existsSync(dir)) continue;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const group = path.join(dir, entry.name);
      // KILLs what it lists and waits for it to empty; a group still busy then fails the rmdir (EBUSY).
      await endAll(new CgroupProcesses(entry.name, group));
      if (fs.existsSync(group)) fs.rmdirSync(group);
    }
    fs.rmdirSync(dir);
  }
}

/** Stops every server, removes what they left in the cgroup tree and every temp dir this file made. */
export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((server) => server.stop()));
  for (const server of started) await removeCgroupScope(server.sessionsDir);
  started.clear();
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** Submits and long-polls until the ticket is finished; returns the final view. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function run(server: TestServer, cmd: string, params: Record<string, string | number> = {}): Promise<any> {
  const submitted = await server.get(server.url('/shell', { ...params, cmd }));
  if (submitted.status !== 200) throw new Error(`submit failed: ${submitted.status} ${submitted.text}`);
  return waitFinal(server, submitted.json.session, submitted.json.ticket);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function waitFinal(server: TestServer, session: string, ticket: number, params: Record<string, string | number> = {}): Promise<any> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const answer = await server.get(server.url('/callback', { session, ticket, wait: 10, ...params }));
    if (answer.status !== 200) throw new Error(`callback failed: ${answer.status} ${answer.text}`);
    if (answer.json.type === 'result') return answer.json;
  }
  throw new Error(`ticket ${session}/${ticket} did not finish`);
}

/** Whether a process with this PID exists (and is not a zombie). */
export function processRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z';
  } catch {
    return false;
  }
}

/** The PIDs in /proc for which `test` holds; a process that ends while it is read is left out. */
export function processesWhere(test: (pid: number) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (test(Number(entry))) pids.push(Number(entry));
    } catch {
      // ended meanwhile
    }
  }
  return pids;
}

/** The server's spawner process (it starts shells ahead, spawner.ts), once it runs. */
export function spawnerOf(server: TestServer): number | undefined {
  return processesWhere((pid) => parentPid(pid) === server.proc.pid && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('spawnerProcess.cjs'))[0];
}

/** A process's parent PID, from /proc; undefined once it is gone. */
export function parentPid(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Whether the server started `pid`: itself, or through its spawner process. */
export function startedByServer(server: TestServer, pid: number): boolean {
  const parent = parentPid(pid);
  return parent !== undefined && (parent === server.proc.pid || parent === spawnerOf(server));
}

/** Polls a condition (for things with no event to wait on, like the process table). */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000, stepMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
  return condition();
}
