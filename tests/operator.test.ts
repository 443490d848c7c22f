// The operator's side without a browser or a proxy: lock-out, the audit log, /view's HTML,
// /healthz and the security headers.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LockOut } from '../src/auth/lockout.js';
import { run, startServer, stopAll, tempDir, until } from './helpers/server.js';

afterEach(stopAll);

function auditLines(file: string): Array<Record<string, unknown>> {
  return fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('lock-out', () => {
  it('answers 429 with Retry-After to a client after AUTH_MAX_FAILURES wrong hashes, until the window passes', async () => {
    const server = await startServer({ env: { AUTH_MAX_FAILURES: '3', AUTH_WINDOW: '2', TRUST_PROXY: '1' } });
    const from = (client: string) => ({ auth: false, headers: { 'X-Forwarded-For': `10.9.9.9, ${client}` } });
    for (let i = 0; i < 3; i += 1) {
      expect((await server.get(`/sessions?hash=wrong-${i}`, from('203.0.113.7'))).status).toBe(401);
    }
    const locked = await server.get(`/sessions?hash=${server.hash}`, from('203.0.113.7'));
    expect(locked.status).toBe(429);
    const retryAfter = Number(locked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(2);
    expect(locked.json.hint).toMatch(/wait/);
    // Another client is not affected.
    expect((await server.get(`/sessions?hash=${server.hash}`, from('203.0.113.8'))).status).toBe(200);
    // Public endpoints stay open.
    expect((await server.get('/healthz', from('203.0.113.7'))).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000 + 100));
    expect((await server.get(`/sessions?hash=${server.hash}`, from('203.0.113.7'))).status).toBe(200);
  });

  it('ignores X-Forwarded-For without TRUST_PROXY', async () => {
    const server = await startServer({ env: { AUTH_MAX_FAILURES: '2', AUTH_WINDOW: '60' } });
    await server.get('/sessions?hash=bad1', { auth: false, headers: { 'X-Forwarded-For': '198.51.100.1' } });
    await server.get('/sessions?hash=bad2', { auth: false, headers: { 'X-Forwarded-For': '198.51.100.2' } });
    // Both came from the same socket address, which is now locked out whatever the header says.
    const answer = await server.get('/sessions', { headers: { 'X-Forwarded-For': '198.51.100.3' } });
    expect(answer.status).toBe(429);
  });

  it('remembers a bounded number of clients however many try', () => {
    let now = 0;
    const lockOut = new LockOut({ maxFailures: 5, window: 60, now: () => now });
    for (let i = 0; i < 25_000; i += 1) {
      now += 1;
      lockOut.recordFailure(`client-${i}`);
    }
    expect(lockOut.trackedClients).toBeLessThanOrEqual(10_000);
  });
});

describe('audit log', () => {
  it('records one line when a command is accepted and one when it ends, without the hash', async () => {
    const server = await startServer();
    const result = await run(server, 'echo audited; exit 2', { session: 'aud' });
    const file = path.join(server.sessionsDir, 'audit.jsonl');
    const lines = auditLines(file); // written before the result was answered
    const accepted = lines.find((line) => line.event === 'accepted');
    const ended = lines.find((line) => line.event === 'ended');
    expect(accepted).toMatchObject({ session: 'aud', ticket: result.ticket, command: 'echo audited; exit 2', client: '127.0.0.1' });
    expect(Date.parse(String(accepted?.time))).not.toBeNaN();
    expect(ended).toMatchObject({ session: 'aud', ticket: result.ticket, status: 'done', exit_code: 2 });
    expect(typeof ended?.duration_ms).toBe('number');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file, 'utf8')).not.toContain(server.hash);
  });

  it('appends across restarts, and goes where AUDIT_LOG says', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'logs', 'audit.jsonl');
    const first = await startServer({ dir, env: { AUDIT_LOG: file } });
    await run(first, 'echo one', { session: 'a' });
    await first.stop();
    const second = await startServer({ dir, hash: first.hash, env: { AUDIT_LOG: file } });
    await run(second, 'echo two', { session: 'a' });
    const lines = auditLines(file);
    expect(lines.filter((line) => line.event === 'accepted').map((line) => line.command)).toEqual(['echo one', 'echo two']);
    expect(fs.existsSync(path.join(second.sessionsDir, 'audit.jsonl'))).toBe(false);
  });
});

describe('/view', () => {
  it('escapes every command and output and carries the security headers, without the hash', async () => {
    const server = await startServer();
    await run(server, "echo '<script>alert(1)</script>' '\"&'", { session: 'xss' });
    const page = await server.get(server.url('/view', { session: 'xss' }));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.text).not.toContain('<script>alert');
    expect(page.text).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(page.text).not.toContain(server.hash);
    const csp = page.headers.get('content-security-policy') ?? '';
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(page.text).toContain(`<script nonce="${nonce}">`);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('is linked from /sessions', async () => {
    const server = await startServer();
    await run(server, 'true', { session: 'linked' });
    const sessions = (await server.get('/sessions')).json;
    expect(sessions.sessions[0].view).toMatch(/\/view\?token=r\.linked\.HASH\.[^&]+&session=linked$/);
  });
});

describe('operator housekeeping', () => {
  it('keeps serving a session whose directory an operator deleted while it was idle', async () => {
    const server = await startServer();
    await run(server, 'echo before', { session: 'pruned' });
    // As the README says: a session is pruned once /sessions shows it not busy (its shell state is kept by then).
    expect(await until(async () => (await server.get('/sessions')).json.sessions[0]?.busy === false)).toBe(true);
    fs.rmSync(path.join(server.sessionsDir, 'pruned'), { recursive: true });
    expect((await server.get(server.url('/history', { session: 'pruned' }))).status).toBe(404);
    const after = await run(server, 'echo after', { session: 'pruned' });
    expect(after).toMatchObject({ status: 'done', output: 'after\n', ticket: 2 });
  });

  it('reopens the audit log on SIGHUP, after rotation moved it away', async () => {
    const server = await startServer();
    const file = path.join(server.sessionsDir, 'audit.jsonl');
    await run(server, 'echo one', { session: 'rot' });
    fs.renameSync(file, `${file}.1`);
    server.proc.kill('SIGHUP');
    await until(() => server.output().includes('reopening the audit log'));
    await run(server, 'echo two', { session: 'rot' });
    expect(auditLines(file).map((line) => line.event)).toEqual(['accepted', 'ended']);
    expect(auditLines(`${file}.1`).map((line) => line.command ?? line.event)).toEqual(['echo one', 'ended']);
  });
});
