// The scheduler: order within a session, limits across sessions, de-duplication, cancel,
// crash recovery and graceful stop — checked on the real process table and the real files.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { processRunning, run, startServer, stopAll, tempDir, until, waitFinal, type TestServer } from './helpers/server.js';

afterEach(stopAll);

async function submit(server: TestServer, params: Record<string, string | number>) {
  const answer = await server.get(server.url('/shell', params));
  if (answer.status !== 200) throw new Error(`submit: ${answer.status} ${answer.text}`);
  return answer.json;
}

function readTicket(server: TestServer, session: string, ticket: number) {
  return JSON.parse(fs.readFileSync(path.join(server.sessionsDir, session, `${ticket}.ticket`), 'utf8'));
}

/** The RSS of a process in bytes, from /proc. */
function rss(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]);
  return kb * 1024;
}

describe('ordering and limits', () => {
  it('runs two tickets of one session in order, the second after the first finished', async () => {
    const server = await startServer();
    const first = await submit(server, { session: 'order', cmd: 'sleep 0.5; echo first' });
    const second = await submit(server, { session: 'order', cmd: 'echo second' });
    const a = await waitFinal(server, 'order', first.ticket);
    const b = await waitFinal(server, 'order', second.ticket);
    expect(Date.parse(b.started_at)).toBeGreaterThanOrEqual(Date.parse(a.finished_at));
    expect([a.output, b.output]).toEqual(['first\n', 'second\n']);
  });

  it('runs at most MAX_CONCURRENCY commands at once; the rest wait queued', async () => {
    const server = await startServer({ env: { MAX_CONCURRENCY: '2' } });
    const t0 = Date.now();
    const tickets = [];
    for (const session of ['s1', 's2', 's3', 's4']) tickets.push(await submit(server, { session, cmd: 'sleep 1' }));
    const statuses = await Promise.all(
      tickets.map(async (t) => (await server.get(server.url('/callback', { session: t.session, ticket: t.ticket }))).json.status),
    );
    expect(statuses.filter((s) => s === 'running')).toHaveLength(2);
    expect(statuses.filter((s) => s === 'queued')).toHaveLength(2);
    const results = await Promise.all(tickets.map((t) => waitFinal(server, t.session, t.ticket)));
    const elapsed = Date.now() - t0;
    expect(results.every((r) => r.status === 'done')).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(1900);
    expect(elapsed).toBeLessThan(3500);
  });

  it('answers 503 with Retry-After beyond MAX_QUEUE waiting tickets', async () => {
    const server = await startServer({ env: { MAX_CONCURRENCY: '1', MAX_QUEUE: '2' } });
    const running = await submit(server, { session: 'q', cmd: 'sleep 30' });
    await submit(server, { session: 'q', cmd: 'echo 1' });
    await submit(server, { session: 'q2', cmd: 'echo 2' });
    const refused = await server.get(server.url('/shell', { session: 'q3', cmd: 'echo 3' }));
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.json.hint).toMatch(/waiting/);
    expect(fs.existsSync(path.join(server.sessionsDir, 'q3', '1.ticket'))).toBe(false);
    await server.get(server.url('/cancel', { session: 'q', ticket: running.ticket }));
  });
});

describe('de-duplication', () => {
  it('runs a repeated identical GET once, a new nonce again, and another session its own', async () => {
    const server = await startServer();
    const counter = path.join(tempDir(), 'count');
    const cmd = `echo run >> ${counter}`;
    const first = await submit(server, { session: 'dd', cmd });
    const replay = await submit(server, { session: 'dd', cmd });
    expect(replay.ticket).toBe(first.ticket);
    expect(replay.cached).toBe(true);
    expect(replay.next).toMatch(/nonce=/);
    await waitFinal(server, 'dd', first.ticket);
    expect(fs.readFileSync(counter, 'utf8')).toBe('run\n');

    const forced = await submit(server, { session: 'dd', cmd, nonce: 'again' });
    expect(forced.ticket).not.toBe(first.ticket);
    expect(forced.cached).toBe(false);
    await waitFinal(server, 'dd', forced.ticket);
    const other = await submit(server, { session: 'dd-other', cmd });
    expect(other.cached).toBe(false);
    await waitFinal(server, 'dd-other', other.ticket);
    expect(fs.readFileSync(counter, 'utf8')).toBe('run\nrun\nrun\n');
  });

  it('returns the same new session for a replayed submission without session', async () => {
    const server = await startServer();
    const first = await submit(server, { cmd: 'echo sessionless' });
    const replay = await submit(server, { cmd: 'echo sessionless' });
    expect(replay).toMatchObject({ session: first.session, ticket: first.ticket, cached: true });
  });

  it('runs every submission with DEDUP_WINDOW=0', async () => {
    const server = await startServer({ env: { DEDUP_WINDOW: '0' } });
    const first = await submit(server, { session: 'nodd', cmd: 'true' });
    const second = await submit(server, { session: 'nodd', cmd: 'true' });
    expect(second.ticket).toBe(first.ticket + 1);
    expect(second.cached).toBe(false);
  });
});

describe('cancel', () => {
  it('kills a running ticket\'s whole process group', async () => {
    const server = await startServer();
    const ticket = await submit(server, { session: 'kill', cmd: 'sleep 60 & echo $! $$; sleep 60' });
    let pids: number[] = [];
    await until(async () => {
      const view = (await server.get(server.url('/callback', { session: 'kill', ticket: ticket.ticket }))).json;
      pids = view.output.trim().split(/\s+/).filter(Boolean).map(Number);
      return pids.length === 2;
    });
    expect(pids.every(processRunning)).toBe(true);
    const canceled = await server.get(server.url('/cancel', { session: 'kill', ticket: ticket.ticket }));
    expect(canceled.status).toBe(200);
    expect(canceled.json).toMatchObject({ status: 'canceled', canceled: true, type: 'result' });
    for (const pid of pids) expect(processRunning(pid), `pid ${pid}`).toBe(false);
    expect(readTicket(server, 'kill', ticket.ticket).status).toBe('canceled');

    const again = await server.get(server.url('/cancel', { session: 'kill', ticket: ticket.ticket }));
    expect(again.json).toMatchObject({ status: 'canceled', canceled: false });
    expect(again.json.next).toMatch(/already ended/);
  });

  it('keeps a queued ticket from ever starting', async () => {
    const server = await startServer();
    const marker = path.join(tempDir(), 'ran');
    const first = await submit(server, { session: 'cq', cmd: 'sleep 1' });
    const queued = await submit(server, { session: 'cq', cmd: `touch ${marker}` });
    const canceled = await server.get(server.url('/cancel', { session: 'cq', ticket: queued.ticket }));
    expect(canceled.json).toMatchObject({ status: 'canceled', started_at: null, canceled: true });
    await waitFinal(server, 'cq', first.ticket);
    const next = await run(server, 'echo after', { session: 'cq' });
    expect(next.ticket).toBe(3);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('leaves a finished ticket unchanged and says so', async () => {
    const server = await startServer();
    const done = await run(server, 'echo fin', { session: 'cf' });
    const answer = await server.get(server.url('/cancel', { session: 'cf', ticket: done.ticket }));
    expect(answer.json).toMatchObject({ status: 'done', canceled: false, output: 'fin\n' });
  });
});

describe('restarts', () => {
  it('after kill -9, marks running and queued tickets interrupted, kills the orphaned command, and numbers on', async () => {
    const dir = tempDir();
    const server = await startServer({ dir });
    const running = await submit(server, { session: 'crash', cmd: 'echo $$; sleep 60' });
    await submit(server, { session: 'crash', cmd: 'echo never' });
    let shellPid = 0;
    await until(async () => {
      const view = (await server.get(server.url('/callback', { session: 'crash', ticket: running.ticket }))).json;
      shellPid = Number(view.output.trim());
      return shellPid > 0;
    });
    expect(processRunning(shellPid)).toBe(true);
    server.proc.kill('SIGKILL');
    await server.exited;
    expect(processRunning(shellPid)).toBe(true); // orphaned, until the next start

    const restarted = await startServer({ dir, hash: server.hash });
    for (const ticket of [1, 2]) {
      const view = (await restarted.get(restarted.url('/callback', { session: 'crash', ticket }))).json;
      expect(view.status).toBe('interrupted');
      expect(view.output).toMatch(/interrupted/);
    }
    expect((await restarted.get(restarted.url('/callback', { session: 'crash', ticket: 1 }))).json.output).toMatch(/^\d+\n/);
    expect(await until(() => !processRunning(shellPid), 5000)).toBe(true);
    const next = await submit(restarted, { session: 'crash', cmd: 'echo three' });
    expect(next.ticket).toBe(3);
    await waitFinal(restarted, 'crash', 3);
    for (const name of fs.readdirSync(path.join(restarted.sessionsDir, 'crash'))) {
      if (name.endsWith('.ticket')) expect(() => JSON.parse(fs.readFileSync(path.join(restarted.sessionsDir, 'crash', name), 'utf8'))).not.toThrow();
    }
    expect(fs.readdirSync(path.join(restarted.sessionsDir, 'crash')).filter((n) => n.endsWith('.out'))).toEqual([]);
  });

  it('reads small and large records back from disk alike after a restart', async () => {
    const dir = tempDir();
    const server = await startServer({ dir });
    // A few bytes of output, and a record past 64 KB (read through the thread pool, not inline).
    const small = await run(server, "printf 'é€ small\\n'", { session: 'cold' });
    const large = await run(server, "yes 'é€' | head -c 180000", { session: 'cold' });
    expect(fs.statSync(path.join(server.sessionsDir, 'cold', `${large.ticket}.ticket`)).size).toBeGreaterThan(64 * 1024);
    await server.stop();

    const restarted = await startServer({ dir, hash: server.hash });
    const views = (await restarted.get(restarted.url('/history', { session: 'cold' }))).json;
    expect(views.map((view: { output: string }) => view.output)).toEqual([small.output, large.output]);
    const smallAgain = (await restarted.get(restarted.url('/callback', { session: 'cold', ticket: small.ticket }))).json;
    expect(smallAgain.output).toBe('é€ small\n');
    const largeAgain = (await restarted.get(restarted.url('/callback', { session: 'cold', ticket: large.ticket }))).json;
    expect(largeAgain.output).toBe(large.output);
    expect(largeAgain.output_bytes).toBe(180000);
  });

  it('on SIGTERM refuses new commands, gives running ones SHUTDOWN_GRACE, then exits 0 with them interrupted', async () => {
    const server = await startServer({ env: { SHUTDOWN_GRACE: '2' } });
    const running = await submit(server, { session: 'term', cmd: 'echo $$; sleep 60' });
    let shellPid = 0;
    await until(async () => {
      const view = (await server.get(server.url('/callback', { session: 'term', ticket: running.ticket }))).json;
      shellPid = Number(view.output.trim());
      return shellPid > 0;
    });
    const t0 = Date.now();
    server.proc.kill('SIGTERM');
    await until(() => server.output().includes('"msg":"stopping"'));
    const refused = await server.get(server.url('/shell', { session: 'term', cmd: 'echo late' }));
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBeTruthy();
    const exit = await server.exited;
    expect(exit.code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(2000 + 5000);
    expect(readTicket(server, 'term', running.ticket).status).toBe('interrupted');
    expect(processRunning(shellPid)).toBe(false);
  });

  it('lets a command that ends within the grace finish as done', async () => {
    const server = await startServer({ env: { SHUTDOWN_GRACE: '10' } });
    const running = await submit(server, { session: 'graceful', cmd: 'sleep 1; echo made it' });
    await until(async () => (await server.get(server.url('/callback', { session: 'graceful', ticket: running.ticket }))).json.status === 'running');
    server.proc.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
    expect(readTicket(server, 'graceful', running.ticket)).toMatchObject({ status: 'done', output: 'made it\n' });
  });
});

describe('memory', () => {
  it('keeps RSS growth under 100 MB while a command prints 100 MB at full speed', async () => {
    const server = await startServer();
    const pid = server.proc.pid ?? 0;
    await run(server, 'echo warm', { session: 'mem' });
    const before = rss(pid, 'VmRSS');
    const result = await run(server, 'head -c 100000000 /dev/zero', { session: 'mem' });
    const peak = rss(pid, 'VmHWM');
    expect(result.output_bytes).toBe(100_000_000);
    expect(result.truncated).toBe(true);
    expect(peak - before).toBeLessThan(100 * 1024 * 1024);
  });
});
