// The deployment as shipped: the server started the way deploy/llmass.service starts it
// (helpers/unit.ts reads the unit itself: its user and group, UMask=0077, its four capabilities,
// NoNewPrivileges, ProtectProc=invisible, its directories and EnvironmentFile), with a real
// command user. Under it a command runs and reports its real exit code; a command that cannot
// start is `error`, never `done`, and /healthz says so; every process a ticket started ends on
// cancel, time limits, shutdown and restart, stopped and TERM-deaf ones included; a start that
// cannot run commands refuses to serve. Needs root (users, setpriv, a mount namespace): CI runs
// as root; elsewhere these tests are skipped and say why.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeAgentUser, type AgentUser } from './helpers/agentUser.js';
import { attacksOn } from './helpers/attacks.js';
import { processRunning, run, stopAll, until, waitFinal, type TestServer } from './helpers/server.js';
import { startAsUnit, type UnitServer } from './helpers/unit.js';

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI) throw new Error('CI runs as root: the deployment tests must run there');
if (!isRoot) process.stdout.write('deployment.test.ts: skipped: starting the server as the unit does needs root (CI runs it as root)\n');

let user: AgentUser;
beforeAll(() => {
  if (isRoot) user = makeAgentUser();
});
afterEach(async () => {
  await stopAll();
  if (isRoot) user.killAll();
});
afterAll(async () => {
  if (isRoot) await user.remove();
});

const unit = (extra: Record<string, string> = {}, more: Partial<Parameters<typeof startAsUnit>[0]> = {}): Promise<UnitServer> =>
  startAsUnit({ env: { COMMAND_USER: user.name, COMMAND_MAX_PROCESSES: '64', SHUTDOWN_GRACE: '1', ...extra }, ...more });

/** Three processes that leave the ticket's process group, each a different way, then a wait. */
const ESCAPES = 'setsid sleep 300 & echo $!; (set -m; sleep 301 & echo $!); ( (sleep 302 & echo $!) & ); sleep 303';

async function printedPids(server: TestServer, session: string, ticket: number, count: number): Promise<number[]> {
  let pids: number[] = [];
  expect(
    await until(async () => {
      const view = (await server.get(server.url('/callback', { session, ticket }))).json;
      pids = String(view.output).trim().split('\n').filter(Boolean).map(Number);
      return pids.length === count;
    }),
  ).toBe(true);
  for (const pid of pids) expect(processRunning(pid), `pid ${pid} before`).toBe(true);
  return pids;
}

async function submit(server: TestServer, session: string, cmd: string, params: Record<string, string | number> = {}): Promise<number> {
  const answer = await server.get(server.url('/shell', { session, cmd, ...params }));
  expect(answer.status).toBe(200);
  return answer.json.ticket;
}

describe.skipIf(!isRoot)('under the unit as shipped', () => {
  it('runs a command as the command user, with its real exit code, and keeps the server\'s files private', async () => {
    const server = await unit();
    const result = await run(server, 'id -u; echo out; echo err >&2; exit 3');
    expect(result).toMatchObject({ status: 'done', exit_code: 3, output: `${user.uid}\nout\nerr\n` });
    const record = path.join(server.sessionsDir, result.session, `${result.ticket}.ticket`);
    expect(fs.statSync(record).mode & 0o777).toBe(0o600);
    expect((await server.get('/healthz', { auth: false })).json).toEqual({ ok: true });
  });

  it('keeps the secret, the records, the audit log, the code and the server process out of a command\'s reach', async () => {
    const server = await unit();
    await run(server, 'echo first', { session: 'victim' });
    for (const cmd of attacksOn(server, server.at('/etc/llmass/llmass.env'), server.code)) {
      const result = await run(server, cmd, { session: 'attacker' });
      expect(result.status, cmd).toBe('done');
      expect(result.exit_code, cmd).not.toBe(0);
      expect(result.output).not.toContain(server.hash);
    }
    expect(fs.existsSync(path.join(server.code, 'dist', 'planted.js'))).toBe(false);
    expect(fs.readFileSync(path.join(server.code, 'dist', 'running', 'prelude.bash'), 'utf8')).not.toContain('pwned-by-agent');
    expect(fs.readFileSync(path.join(server.sessionsDir, 'audit.jsonl'), 'utf8')).not.toContain('forged\n');
    expect((await server.get('/healthz', { auth: false })).json).toEqual({ ok: true });
    expect((await server.get(server.url('/callback', { session: 'victim', ticket: 1 }))).json).toMatchObject({ status: 'done', output: 'first\n' });
  });

  it('shows what a finished ticket left running for as long as it runs, though /proc hides it from the server', async () => {
    const server = await unit();
    const result = await run(server, 'nohup sleep 60 > /dev/null 2>&1 & echo $!', { session: 'bg' });
    const pid = Number(result.output.trim());
    expect(result).toMatchObject({ status: 'done', background: [{ pid }] });
    const again = async () => (await server.get(server.url('/callback', { session: 'bg', ticket: result.ticket }))).json;
    expect((await again()).background).toEqual([{ pid, command: '' }]);
    process.kill(pid, 'SIGKILL');
    expect(await until(async () => (await again()).background === undefined)).toBe(true);
  });

  it('ends escaped processes on cancel and at the time limit', async () => {
    const server = await unit();
    const canceled = await submit(server, 'cancel', ESCAPES);
    const pids = await printedPids(server, 'cancel', canceled, 3);
    expect((await server.get(server.url('/cancel', { session: 'cancel', ticket: canceled }))).json).toMatchObject({ status: 'canceled' });
    for (const pid of pids) expect(processRunning(pid), `pid ${pid}`).toBe(false);

    const limited = await submit(server, 'limit', ESCAPES, { timeout: 2 });
    const more = await printedPids(server, 'limit', limited, 3);
    expect(await waitFinal(server, 'limit', limited)).toMatchObject({ status: 'timeout' });
    for (const pid of more) expect(processRunning(pid), `pid ${pid}`).toBe(false);
  });

  it('ends a command that ignores TERM, and a stopped one, at cancel and at its time limit', async () => {
    const server = await unit();
    const deaf = await submit(server, 'deaf', "trap '' TERM; echo $$; while :; do sleep 1; done");
    const [shell] = await printedPids(server, 'deaf', deaf, 1);
    const started = Date.now();
    expect((await server.get(server.url('/cancel', { session: 'deaf', ticket: deaf }))).json).toMatchObject({ status: 'canceled' });
    expect(Date.now() - started).toBeLessThan(6000);
    expect(processRunning(shell ?? 0)).toBe(false);

    const stopped = await submit(server, 'stopped', 'echo $$; kill -STOP $$', { timeout: 2 });
    const [pid] = await printedPids(server, 'stopped', stopped, 1);
    expect(await waitFinal(server, 'stopped', stopped)).toMatchObject({ status: 'timeout', timeout_kind: 'hard' });
    expect(processRunning(pid ?? 0)).toBe(false);
  });

  it('ends everything on SIGTERM within the grace, TERM-deaf commands included', async () => {
    const server = await unit();
    const escaped = await submit(server, 'term', ESCAPES);
    const pids = await printedPids(server, 'term', escaped, 3);
    const deaf = await submit(server, 'deaf', "trap '' TERM; echo $$; while :; do sleep 1; done");
    pids.push(...(await printedPids(server, 'deaf', deaf, 1)));
    const started = Date.now();
    expect(await server.stop()).toEqual({ code: 0, signal: null });
    // SHUTDOWN_GRACE (1 s) and the TERM-to-KILL grace (2 s): well within the unit's TimeoutStopSec.
    expect(Date.now() - started).toBeLessThan(8000);
    for (const pid of pids) expect(processRunning(pid), `pid ${pid}`).toBe(false);
  });

  it('ends at the next start what a killed server left running, and marks it interrupted', async () => {
    const server = await unit();
    const ticket = await submit(server, 'crash', ESCAPES);
    const pids = await printedPids(server, 'crash', ticket, 3);
    server.proc.kill('SIGKILL');
    await server.exited;
    for (const pid of pids) expect(processRunning(pid)).toBe(true);
    const again = await unit({}, { root: server.root, hash: server.hash });
    expect(await until(() => pids.every((pid) => !processRunning(pid)), 8000)).toBe(true);
    expect((await again.get(again.url('/callback', { session: 'crash', ticket }))).json.status).toBe('interrupted');
  });

  it('answers error, never done, when the prelude cannot be read or is gone, and /healthz 503 until a self-check passes', async () => {
    const server = await unit();
    const prelude = path.join(server.code, 'dist', 'running', 'prelude.bash');
    expect((await run(server, 'true', { session: 'before' })).status).toBe('done');
    for (const [how, breakIt] of [
      ['unreadable', () => fs.chmodSync(prelude, 0o600)],
      ['removed', () => fs.renameSync(prelude, `${prelude}.away`)],
    ] as const) {
      breakIt();
      const result = await run(server, 'echo ran > ran-marker', { session: how });
      expect(result.status, how).toBe('error');
      expect(result.exit_code).toBeNull();
      expect(result.reason).toMatch(/nothing ran/);
      expect(result.next).toMatch(/nothing ran/);
      expect(fs.existsSync(path.join(user.home, 'ran-marker'))).toBe(false);
      const unhealthy = await server.get('/healthz', { auth: false });
      expect(unhealthy.status).toBe(503);
      expect(unhealthy.json).toMatchObject({ ok: false, error: expect.stringMatching(/prelude/) });
      if (how === 'unreadable') fs.chmodSync(prelude, 0o644);
      else fs.renameSync(`${prelude}.away`, prelude);
      expect(await until(async () => (await server.get('/healthz', { auth: false })).status === 200, 15_000, 500)).toBe(true);
      expect((await run(server, 'echo again', { session: how })).output).toBe('again\n');
    }
  });

  it('refuses to serve when its self-check fails at start, naming the step and the fix', async () => {
    const first = await unit();
    await first.stop();
    fs.chmodSync(path.join(first.code, 'dist', 'running', 'prelude.bash'), 0o600);
    const broken = await unit({}, { root: first.root, hash: first.hash, expectExit: true });
    expect((await broken.exited).code).toBe(1);
    expect(broken.output()).toMatch(/self-check failed at step "prelude".*Fix: make the prelude readable by/);
    expect(broken.output()).not.toMatch(/"msg":"listening"/);
  });

  it('passes no descriptor it inherited to a command', async () => {
    const server = await unit({}, { inheritedDescriptor: 251 });
    expect(server.output()).toMatch(/closed descriptors the server inherited.*"descriptors":\[251\]/);
    // Builtins only, so that the list is the shell's own: stdio and its channel to the server.
    const result = await run(server, 'for fd in /proc/$$/fd/*; do echo "${fd##*/} $(readlink "$fd")"; done');
    expect(result.output).toMatch(/^0 \/dev\/null\n1 /);
    expect(result.output).not.toMatch(/hostname/);
    expect(result.output).not.toMatch(/^251 /m);
  });
});
