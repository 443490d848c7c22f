// Confinement, from real commands run as a real unprivileged user (made by these tests): the
// secret, the records, the code and the server's process are out of reach; every process a
// ticket started ends on cancel, time limits, SIGTERM and restart recovery, escapes included;
// the caps hold against a fork bomb and a memory hog. Making users needs root: CI runs as
// root; as another user these tests are skipped and say why.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { attacksOn } from './helpers/attacks.js';
import { ROOT, processRunning, processesWhere, run, startServer, startedByServer, stopAll, tempDir, until, waitFinal, type TestServer } from './helpers/server.js';

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI) throw new Error('CI runs as root: the confinement tests must run there');
if (!isRoot) process.stdout.write('confinement.test.ts: skipped: creating a system user needs root (CI runs it as root)\n');

const user = `llmt${crypto.randomBytes(3).toString('hex')}`;
let uid = -1;
let home = '';

function processesOf(owner: number): number[] {
  return processesWhere((pid) => {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) === owner && processRunning(pid);
  });
}

function killAllOf(owner: number): void {
  for (const pid of processesOf(owner)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

beforeAll(() => {
  if (!isRoot) return;
  home = fs.mkdtempSync('/tmp/llmass-agent-home-');
  fs.rmdirSync(home);
  execFileSync('useradd', ['--system', '--create-home', '--home-dir', home, '--shell', '/bin/bash', user]);
  // A private home, which the server (root without DAC capabilities under systemd) may not enter.
  fs.chmodSync(home, 0o700);
  uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
});

afterEach(async () => {
  await stopAll();
  if (uid > 0) killAllOf(uid);
});

afterAll(async () => {
  if (!isRoot) return;
  await until(() => processesOf(uid).length === 0, 5000);
  execFileSync('userdel', [user]);
  fs.rmSync(home, { recursive: true, force: true });
});

const confined = (extra: Record<string, string> = {}) => ({ env: { COMMAND_USER: user, COMMAND_MAX_PROCESSES: '64', COMMAND_MAX_MEMORY: String(512 << 20), ...extra } });

/** Three processes that leave the ticket's process group, each a different way; their PIDs, printed. */
const ESCAPES = 'setsid sleep 300 & echo $!; (set -m; sleep 301 & echo $!); ( (sleep 302 & echo $!) & ); sleep 303';

async function escapedPids(server: TestServer, session: string, params: Record<string, string | number> = {}): Promise<{ ticket: number; pids: number[] }> {
  const submitted = (await server.get(server.url('/shell', { session, cmd: ESCAPES, ...params }))).json;
  let pids: number[] = [];
  expect(
    await until(async () => {
      const view = (await server.get(server.url('/callback', { session, ticket: submitted.ticket }))).json;
      pids = String(view.output).trim().split('\n').filter(Boolean).map(Number);
      return pids.length === 3;
    }),
  ).toBe(true);
  for (const pid of pids) expect(processRunning(pid)).toBe(true);
  return { ticket: submitted.ticket, pids };
}

describe.skipIf(!isRoot)('COMMAND_USER', () => {
  it('runs commands as that user: its ids and groups, its home, no capabilities, no_new_privs, the caps', async () => {
    const server = await startServer(confined());
    const result = await run(server, 'id -u; id -g; id -G; pwd; echo "$HOME $USER $LOGNAME"; grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs)" /proc/self/status; ulimit -u; ulimit -v; env | grep -c HASH; cat /proc/self/oom_score_adj');
    const lines: string[] = result.output.trim().split('\n');
    const gid = execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim();
    expect(lines.slice(0, 5)).toEqual([String(uid), gid, execFileSync('id', ['-G', user], { encoding: 'utf8' }).trim(), home, `${home} ${user} ${user}`]);
    for (const cap of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(lines).toContain(`${cap}:\t0000000000000000`);
    expect(lines).toContain('NoNewPrivs:\t1');
    expect(lines.slice(-4)).toEqual(['64', String(512 * 1024), '0', '500']);
    expect(server.output().split('\n')[0]).toMatch(new RegExp(`commands run as ${user} \\(uid ${uid}\\)`));
  });

  it('keeps the secret, the records, the code and the server process out of reach', async () => {
    const dir = tempDir();
    const server = await startServer({ ...confined(), dir });
    fs.writeFileSync(path.join(dir, '.env'), `HASH=${server.hash}\n`, { mode: 0o644 });
    await run(server, 'echo first', { session: 'victim' });
    for (const cmd of attacksOn(server, `${dir}/.env`)) {
      const result = await run(server, cmd, { session: 'attacker' });
      expect(result.exit_code, cmd).not.toBe(0);
      expect(result.output).not.toContain(server.hash);
    }
    expect((await server.get('/healthz', { auth: false })).status).toBe(200);
    expect(fs.existsSync(path.join(ROOT, 'dist', 'planted.js'))).toBe(false);
    const audit = fs.readFileSync(path.join(server.sessionsDir, 'audit.jsonl'), 'utf8');
    expect(audit).not.toContain('forged\n');
    for (const line of audit.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    const victim = await server.get(server.url('/callback', { session: 'victim', ticket: 1 }));
    expect(victim.json).toMatchObject({ status: 'done', output: 'first\n' });
  });

  it('never lets an exported LD_PRELOAD reach the root side of the next command\'s start', async () => {
    const dir = fs.mkdtempSync('/tmp/llmass-preload-');
    try {
      fs.chmodSync(dir, 0o1777);
      const marks = path.join(dir, 'marks');
      const source = path.join(dir, 'mark.c');
      fs.writeFileSync(source, `#include <stdio.h>\n#include <unistd.h>\n__attribute__((constructor)) static void mark(void) { FILE *f = fopen("${marks}", "a"); if (f) { fprintf(f, "uid=%d\\n", (int) getuid()); fclose(f); } }\n`);
      const library = path.join(dir, 'mark.so');
      execFileSync('cc', ['-shared', '-fPIC', '-o', library, source]);
      fs.chmodSync(library, 0o755);
      const server = await startServer(confined());
      await run(server, `export LD_PRELOAD=${library}`, { session: 'preload' });
      const second = await run(server, 'echo "$LD_PRELOAD"; /bin/true', { session: 'preload' });
      expect(second.output).toBe(`${library}\n`);
      const lines = fs.readFileSync(marks, 'utf8').trim().split('\n');
      expect(lines).toContain(`uid=${uid}`);
      expect(lines).not.toContain('uid=0');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start as root or as its own user, saying why', async () => {
    for (const [name, why] of [['root', /is root/], ['no-such-user-x', /does not exist/]] as const) {
      const server = await startServer({ env: { COMMAND_USER: name }, expectExit: true });
      expect((await server.exited).code).toBe(1);
      expect(server.output()).toMatch(why);
    }
  });
});

describe.skipIf(!isRoot)('every process a ticket started', () => {
  it('ends on cancel, escapes included', async () => {
    const server = await startServer(confined());
    const { ticket, pids } = await escapedPids(server, 'cancel');
    const canceled = await server.get(server.url('/cancel', { session: 'cancel', ticket }));
    expect(canceled.json).toMatchObject({ status: 'canceled', canceled: true });
    for (const pid of pids) expect(processRunning(pid), `pid ${pid}`).toBe(false);
  });

  it('ends at the time limit, escapes included', async () => {
    const server = await startServer(confined());
    const { ticket, pids } = await escapedPids(server, 'limit', { timeout: 2 });
    expect(await waitFinal(server, 'limit', ticket)).toMatchObject({ status: 'timeout' });
    for (const pid of pids) expect(processRunning(pid), `pid ${pid}`).toBe(false);
  });

  it('ends on SIGTERM, escapes included', async () => {
    const server = await startServer({ env: { ...confined().env, SHUTDOWN_GRACE: '1' } });
    const { pids } = await escapedPids(server, 'term');
    expect(await server.stop()).toEqual({ code: 0, signal: null });
    for (const pid of pids) expect(processRunning(pid), `pid ${pid}`).toBe(false);
  });

  it('ends at the next start after the server was killed, escapes included', async () => {
    const dir = tempDir();
    const server = await startServer({ ...confined(), dir });
    const { ticket, pids } = await escapedPids(server, 'crash');
    server.proc.kill('SIGKILL');
    await server.exited;
    for (const pid of pids) expect(processRunning(pid)).toBe(true);
    const again = await startServer({ ...confined(), dir, hash: server.hash });
    expect(await until(() => pids.every((pid) => !processRunning(pid)), 8000)).toBe(true);
    expect((await again.get(again.url('/callback', { session: 'crash', ticket }))).json.status).toBe('interrupted');
  });

  it('lets a nohup child outlive its finished ticket', async () => {
    const server = await startServer(confined());
    const result = await run(server, 'nohup sleep 60 > /dev/null 2>&1 & echo $!');
    const pid = Number(result.output.trim());
    expect(result.status).toBe('done');
    expect(result.background).toEqual([{ pid, command: 'sleep 60' }]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(processRunning(pid)).toBe(true);
    process.kill(pid, 'SIGKILL');
  });
});

describe.skipIf(!isRoot)('caps', () => {
  it('contains a fork bomb under COMMAND_MAX_PROCESSES while /healthz answers, and leaves nothing after the limit', async () => {
    const server = await startServer(confined());
    const submitted = (await server.get(server.url('/shell', { session: 'bomb', cmd: 'bomb() { bomb | bomb & }; bomb; sleep 100', timeout: 4 }))).json;
    let slowest = 0;
    let finished: { status: string; output: string } | undefined;
    while (finished === undefined) {
      const t0 = performance.now();
      expect((await server.get('/healthz', { auth: false })).status).toBe(200);
      slowest = Math.max(slowest, performance.now() - t0);
      expect(processesOf(uid).length).toBeLessThanOrEqual(64);
      const view = (await server.get(server.url('/callback', { session: 'bomb', ticket: submitted.ticket }))).json;
      if (view.type === 'result') finished = view;
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(slowest).toBeLessThan(1000);
    expect(finished.status).toBe('timeout');
    expect(finished.output).toMatch(/hit COMMAND_MAX_PROCESSES \(64 processes/);
    // Nothing of the bomb: at most the session's next shell, started ahead by the server.
    const left = processesOf(uid);
    expect(left.filter((pid) => !startedByServer(server, pid))).toEqual([]);
    expect(left.length).toBeLessThanOrEqual(1);
  });

  it('refuses a memory hog under COMMAND_MAX_MEMORY, naming the limit', async () => {
    const server = await startServer(confined());
    const result = await run(server, "python3 -c 'b = bytearray(1024 ** 3)'");
    expect(result.exit_code).not.toBe(0);
    expect(result.output).toMatch(/MemoryError/);
    expect(result.output).toMatch(/hit COMMAND_MAX_MEMORY \(536870912 bytes per process\)/);
  });
});

describe.skipIf(!isRoot)('the server\'s own files', () => {
  it('tightens a SESSIONS_DIR others can reach, saying so', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'sessions'), { mode: 0o755 });
    fs.chmodSync(path.join(dir, 'sessions'), 0o755);
    const server = await startServer({ dir });
    expect(fs.statSync(server.sessionsDir).mode & 0o777).toBe(0o700);
    expect(server.output()).toMatch(/tightened permissions/);
  });

  it('warns in its first line when commands run as root without COMMAND_USER', async () => {
    const server = await startServer();
    expect(server.output().split('\n')[0]).toMatch(/"level":"warn".*commands run as root/);
  });
});

describe('listening on a unix socket', () => {
  it('serves on SOCKET with mode 0660 and takes X-Forwarded-For from it', async () => {
    const dir = tempDir();
    const socket = path.join(dir, 'llmass.sock');
    const server = await startServer({ dir, env: { SOCKET: socket, AUTH_MAX_FAILURES: '1' }, listenOn: 'socket' });
    const stats = fs.statSync(socket);
    expect(stats.isSocket()).toBe(true);
    expect(stats.mode & 0o777).toBe(0o660);
    const get = (pathAndQuery: string, forwarded: string): Promise<number> =>
      new Promise((resolve, reject) => {
        http
          .get({ socketPath: socket, path: pathAndQuery, headers: { 'X-Forwarded-For': forwarded } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on('error', reject);
      });
    expect(await get('/healthz', '203.0.113.1')).toBe(200);
    expect(await get('/sessions?hash=wrong', '203.0.113.1')).toBe(401);
    expect(await get(`/sessions?hash=${server.hash}`, '203.0.113.1')).toBe(429);
    expect(await get(`/sessions?hash=${server.hash}`, '203.0.113.2')).toBe(200);
  });
});
