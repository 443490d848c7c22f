// Agents apart on the host: two keys with two users (user= in KEYS_FILE), the server started as
// the unit starts it. Every attack one agent tried on another's when they shared a user is
// refused by the kernel now (another uid): reading its files and its shells' environment,
// ptrace, taking a descriptor of its waiting shell (pidfd_getfd, the start gate), signals
// (kill -9 -1 included); and the other agent's next command runs as before, its state intact.
// KEYS_FILE lines that name root, an unknown user or an unknown option are left out, by line.
// Needs root (users, the unit): CI runs it as root; as another user it is skipped, saying why.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAgentUser, type AgentUser } from './helpers/agentUser.js';
import { processRunning, processesWhere, stopAll, tempDir, until, type Answer } from './helpers/server.js';
import { startAsUnit, type UnitServer } from './helpers/unit.js';

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI) throw new Error('CI runs as root: the users-apart tests must run there');
if (!isRoot) process.stdout.write('usersApart.test.ts: skipped: making users and starting the unit needs root (CI runs it as root)\n');

const aliceKey = 'alice-user-secret-0123456789abcdefghijklmnopqrstuv';
const bobKey = 'bob-user-secret-0123456789abcdefghijklmnopqrstuvwxy';
let alice: AgentUser;
let bob: AgentUser;
let fallback: AgentUser;
let server: UnitServer;

const as = (key: string, pathname: string, params: Record<string, string | number>): Promise<Answer> =>
  server.get(`${pathname}?${Object.entries({ hash: key, ...params }).map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`).join('&')}`, { auth: false });

async function ran(key: string, session: string, cmd: string): Promise<{ status: string; output: string; exit_code: number | null }> {
  const answer = await as(key, '/shell', { session, cmd, wait: 20 });
  expect(answer.status, answer.text).toBe(200);
  return answer.json;
}

beforeAll(async () => {
  if (!isRoot) return;
  alice = makeAgentUser('llma');
  bob = makeAgentUser('llmb');
  fallback = makeAgentUser('llmc');
  const keys = path.join(tempDir(), 'keys');
  fs.writeFileSync(
    keys,
    [`alice ${aliceKey} user=${alice.name}`, `bob ${bobKey} user=${bob.name}`, `rooty ${'r'.repeat(40)} user=root`, `ghost ${'g'.repeat(40)} user=llmnosuchuser`, `odd ${'o'.repeat(40)} colour=blue`, ''].join('\n'),
    { mode: 0o600 },
  );
  server = await startAsUnit({ env: { COMMAND_USER: fallback.name, KEYS_FILE: keys, SHUTDOWN_GRACE: '1', COMMAND_MAX_PROCESSES: '64' } });
});
afterAll(async () => {
  if (!isRoot) return;
  await stopAll();
  for (const user of [alice, bob, fallback]) await user.remove();
});

describe.skipIf(!isRoot)('a user per key', () => {
  it('runs each key\'s commands as its own user, in its home; keys without user= as COMMAND_USER', async () => {
    expect((await ran(aliceKey, 'a1', 'id -u; pwd')).output).toBe(`${alice.uid}\n${alice.home}\n`);
    expect((await ran(bobKey, 'b1', 'id -u; pwd')).output).toBe(`${bob.uid}\n${bob.home}\n`);
    expect((await ran(server.hash, 'h1', 'id -u')).output).toBe(`${fallback.uid}\n`);
    // The operator, in an agent's session, runs as that session's user.
    expect((await ran(server.hash, 'a1', 'id -u')).output).toBe(`${alice.uid}\n`);
  });

  it('leaves out, by line number, a key whose user is root or unknown, or whose option is unknown', async () => {
    const log = server.output();
    expect(log).toMatch(/"line":3,"problem":"user=root is root: commands must run as an unprivileged user"/);
    expect(log).toMatch(/"line":4,"problem":"user=llmnosuchuser does not exist/);
    expect(log).toMatch(/"line":5,"problem":"unknown option \\"colour=blue\\"/);
    for (const secret of ['r'.repeat(40), 'g'.repeat(40), 'o'.repeat(40)]) expect((await as(secret, '/sessions', {})).status).toBe(401);
    expect(log).not.toContain('r'.repeat(40));
  });

  it('refuses every cross-agent attack on the host, and the other agent goes on as before', async () => {
    const made = await ran(bobKey, 'b2', 'export BOB_SECRET=s3cr3t-bob; echo bob-private > ~/secret.txt; chmod 600 ~/secret.txt; echo ok');
    expect(made.output).toBe('ok\n');
    // Bob's session's next shell, started ahead, holds the secret in its environment: the target is real.
    let ready: number | undefined;
    expect(
      await until(() => {
        ready = bob.processes().find((pid) => {
          try {
            return fs.readFileSync(`/proc/${pid}/environ`, 'latin1').includes('BOB_SECRET=s3cr3t-bob');
          } catch {
            return false;
          }
        });
        return ready !== undefined;
      }),
    ).toBe(true);
    const sleeping = await as(bobKey, '/shell', { session: 'b3', cmd: 'sleep 300' });
    expect(sleeping.json.status).toMatch(/queued|running/);
    let sleeper: number | undefined;
    const commandLine = (pid: number): string => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1');
      } catch {
        return ''; // gone meanwhile
      }
    };
    expect(await until(() => (sleeper = bob.processes().find((pid) => commandLine(pid).startsWith('sleep\x00300'))) !== undefined)).toBe(true);
    const ptrace = `python3 -c 'import ctypes,sys; libc=ctypes.CDLL(None, use_errno=True); r=libc.ptrace(16, ${ready}, 0, 0); print("ptrace", r, ctypes.get_errno())'`;
    const getfd = `python3 -c 'import ctypes,os; libc=ctypes.CDLL(None, use_errno=True); fd=os.pidfd_open(${ready}); r=libc.syscall(438, fd, 3, 0); print("getfd", r, ctypes.get_errno())'`;
    const attack = [
      `cat /proc/${ready}/environ > /dev/null 2>&1 && echo environ-read || echo environ-denied`,
      `cat ${bob.home}/secret.txt > /dev/null 2>&1 && echo file-read || echo file-denied`,
      ptrace,
      getfd,
      `kill -9 ${ready} 2> /dev/null && echo kill-ok || echo kill-denied`,
      'kill -9 -1; echo after',
    ].join('; ');
    const attacked = await ran(aliceKey, 'a2', attack);
    expect(attacked.output).toContain('environ-denied\nfile-denied\nptrace -1 1\ngetfd -1 1\nkill-denied\n');
    expect(attacked.output).not.toContain('s3cr3t-bob');
    expect(attacked.output).not.toContain('bob-private');
    // Bob's processes live on: the ready shell, and the sleeping command.
    expect(processRunning(ready ?? 0)).toBe(true);
    expect(processRunning(sleeper ?? 0)).toBe(true);
    // Bob's next command takes his own state, unforged, in the shell started ahead.
    expect(await ran(bobKey, 'b2', 'echo "$BOB_SECRET"; cat ~/secret.txt')).toMatchObject({ status: 'done', output: 's3cr3t-bob\nbob-private\n' });
    // Through the API too: alice's file reads run as alice.
    const read = await as(aliceKey, '/file', { session: 'a2', path: `${bob.home}/secret.txt` });
    expect(read.status).toBe(403);
    await as(bobKey, '/cancel', { session: 'b3', ticket: 1 });
  });

  it('keeps a fork bomb to its own user, and ends its leftovers once they hold that user\'s process limit', async () => {
    // Forks until the kernel says no (python does not retry as bash does), holds them a while, exits.
    const bomb = 'python3 -c "$(printf \'import os,time\\nn=0\\nwhile True:\\n  try:\\n    pid=os.fork()\\n  except OSError:\\n    break\\n  if pid==0:\\n    time.sleep(300)\\n    os._exit(0)\\n  n+=1\\nprint(n, flush=True)\\ntime.sleep(3)\')"';
    const submitted = await as(aliceKey, '/shell', { session: 'bomb', cmd: bomb });
    expect(submitted.status).toBe(200);
    expect(await until(() => alice.processes().length >= 56), `alice has ${alice.processes().length} processes`).toBe(true);
    // Alice is at her limit; Bob's commands run meanwhile, as his own user.
    expect(await ran(bobKey, 'b4', 'ls / > /dev/null && echo bob-runs')).toMatchObject({ status: 'done', output: 'bob-runs\n' });
    const ended = (await as(aliceKey, '/callback', { session: 'bomb', ticket: 1, wait: 20 })).json;
    expect(ended.status).toBe('done');
    const forked = Number(String(ended.output).trim());
    expect(forked).toBeGreaterThanOrEqual(56);
    // Its leftovers held the limit: ended, counted, and said in its view.
    expect(await until(async () => (await as(aliceKey, '/callback', { session: 'bomb', ticket: 1 })).json.background_ended === forked), server.output().split('\n').filter((line) => line.includes('error')).join('\n')).toBe(true);
    const view = (await as(aliceKey, '/callback', { session: 'bomb', ticket: 1 })).json;
    expect(view.next).toMatch(/held the command user's process limit/);
    expect(alice.processes().filter((pid) => processRunning(pid)).length).toBeLessThan(8);
    // Reaping the KILLed processes is init's job (the server, no subreaper, cannot see or reap
    // them): once init has, Alice's next command has its processes again.
    const anyOfAlice = (): number[] => processesWhere((pid) => Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) === alice.uid);
    expect(await until(() => anyOfAlice().length < 8, 30_000)).toBe(true);
    const next = await ran(aliceKey, 'bomb', 'ls / | wc -l > /dev/null && echo alice-runs');
    expect(next, JSON.stringify(next)).toMatchObject({ status: 'done', output: 'alice-runs\n' });
  });
});
