// /shell, /callback and /history end to end: the lifecycle of a ticket, its file, and order.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startServer, stopAll, until, waitFinal, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(stopAll);

describe('/shell and /callback', () => {
  it('answers at once with a ticket, then the callback goes from running to the result', async () => {
    const t0 = Date.now();
    const submitted = await server.get(server.url('/shell', { session: 'life', cmd: 'sleep 1; echo finished' }));
    expect(Date.now() - t0).toBeLessThan(900);
    expect(submitted.status).toBe(200);
    expect(submitted.json).toMatchObject({ type: 'submission', ticket: 1, session: 'life', input: 'sleep 1; echo finished', cached: false });
    expect(['queued', 'running']).toContain(submitted.json.status);
    expect(submitted.json.callback).toContain('/callback?token=x.life.HASH.');
    expect(submitted.text).not.toContain(server.hash);
    expect(typeof submitted.json.next).toBe('string');

    const during = await server.get(server.url('/callback', { session: 'life', ticket: 1 }));
    expect(during.json.type).toBe('status');
    expect(['queued', 'running']).toContain(during.json.status);
    expect(during.json.exit_code).toBeNull();

    const result = await waitFinal(server, 'life', 1);
    expect(result).toMatchObject({ type: 'result', status: 'done', exit_code: 0, signal: null, output: 'finished\n', output_bytes: 9, truncated: false });
    expect(Date.parse(result.finished_at)).toBeGreaterThanOrEqual(Date.parse(result.started_at));
    expect(result.duration_ms).toBeGreaterThanOrEqual(900);
  });

  it('records a failing command with its exit code', async () => {
    const result = await run(server, 'echo oops; exit 7', { session: 'fail' });
    expect(result).toMatchObject({ status: 'done', exit_code: 7, output: 'oops\n' });
  });

  it('creates a new session with a valid random name when none is given', async () => {
    const submitted = await server.get(server.url('/shell', { cmd: 'echo new' }));
    expect(submitted.status).toBe(200);
    expect(submitted.json.session).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/);
    expect(submitted.json.ticket).toBe(1);
    expect(fs.existsSync(path.join(server.sessionsDir, submitted.json.session, '1.ticket'))).toBe(true);
  });

  it('keeps the durable record as <n>.ticket holding the ticket view, one file at rest', async () => {
    const result = await run(server, 'printf abc', { session: 'record' });
    const dir = path.join(server.sessionsDir, 'record');
    const onDisk = JSON.parse(fs.readFileSync(path.join(dir, `${result.ticket}.ticket`), 'utf8'));
    expect(onDisk).toMatchObject({ ticket: result.ticket, session: 'record', input: 'printf abc', status: 'done', exit_code: 0, output: 'abc', output_bytes: 3 });
    expect(onDisk.hash).toBeUndefined();
    // At rest: the record, the shell state, the owner, and the files made ahead for the next ticket's two records.
    expect(await until(() => fs.readdirSync(dir).filter((name) => name.startsWith('.next.ticket.')).length === 2, 5000)).toBe(true);
    const files = fs.readdirSync(dir).filter((name) => !name.startsWith('.shell-state') && !name.startsWith('.next.ticket.') && name !== '.owner');
    expect(files).toEqual(['1.ticket']);
  });

  it('has the ticket file from the moment the number is handed out', async () => {
    // A long queue in one session: later tickets are queued, not started, yet readable.
    const first = await server.get(server.url('/shell', { session: 'early', cmd: 'sleep 2' }));
    const second = await server.get(server.url('/shell', { session: 'early', cmd: 'echo second' }));
    const file = path.join(server.sessionsDir, 'early', `${second.json.ticket}.ticket`);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).status).toBe('queued');
    const during = await server.get(server.url('/callback', { session: 'early', ticket: second.json.ticket }));
    expect(during.status).toBe(200);
    expect(during.json.status).toBe('queued');
    await server.get(server.url('/cancel', { session: 'early', ticket: first.json.ticket }));
    const result = await waitFinal(server, 'early', second.json.ticket);
    expect(result.output).toBe('second\n');
  });

  it('answers 404 for an unknown session or ticket, 400 for a malformed ticket', async () => {
    await run(server, 'true', { session: 'known' });
    const noSession = await server.get(server.url('/callback', { session: 'nosuch', ticket: 1 }));
    expect(noSession.status).toBe(404);
    expect(noSession.json.hint).toBeTruthy();
    const noTicket = await server.get(server.url('/callback', { session: 'known', ticket: 99 }));
    expect(noTicket.status).toBe(404);
    expect(noTicket.json.hint).toContain('1 to 1');
    for (const bad of ['0', '-1', '1.5', 'abc', '1e3', ' 1', '0x10']) {
      const answer = await server.get(server.url('/callback', { session: 'known', ticket: bad }));
      expect(answer.status, `ticket=${bad}`).toBe(400);
      expect(answer.json.error).toMatch(/ticket/);
    }
  });
});

describe('/history', () => {
  it('lists tickets in numeric order: 100 after 99, not after 10', async () => {
    const session = 'numeric';
    // 101 quick commands; submitted concurrently in small groups, they still run in ticket order.
    for (let i = 1; i <= 101; i += 10) {
      await Promise.all(
        Array.from({ length: Math.min(10, 102 - i) }, (_, k) => server.get(server.url('/shell', { session, cmd: `echo ${i + k}`, nonce: i + k }))),
      );
    }
    await waitFinal(server, session, 101);
    const history = await server.get(server.url('/history', { session }));
    expect(history.status).toBe(200);
    const tickets = history.json.map((view: { ticket: number }) => view.ticket);
    expect(tickets).toEqual(Array.from({ length: 101 }, (_, k) => k + 1));
    expect(history.json.every((view: { type: string }) => view.type === 'result')).toBe(true);
  }, 120_000);

  it('lists only the tickets above after=, and [] when there are none', async () => {
    await run(server, 'echo one', { session: 'after' });
    await run(server, 'echo two', { session: 'after' });
    const later = await server.get(server.url('/history', { session: 'after', after: 1 }));
    expect(later.json.map((view: { output: string }) => view.output)).toEqual(['two\n']);
    const none = await server.get(server.url('/history', { session: 'after', after: 2 }));
    expect(none.status).toBe(200);
    expect(none.text).toBe('[]\n');
    expect((await server.get(server.url('/history', { session: 'after', after: 'one' }))).status).toBe(400);
  });

  it('answers 400 without a session and 404 for an unknown one', async () => {
    expect((await server.get('/history')).status).toBe(400);
    expect((await server.get(server.url('/history', { session: 'ghost' }))).status).toBe(404);
  });
});
