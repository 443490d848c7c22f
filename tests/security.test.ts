// The hash guards every authenticated endpoint; session names cannot leave SESSIONS_DIR; the
// hash never reaches anything the server prints or writes; bad input never gives a 5xx.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startServer, stopAll, until, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ env: { AUTH_MAX_FAILURES: '1000' } });
});
afterAll(stopAll);

const AUTHENTICATED = ['/context', '/shell?cmd=id', '/callback?session=a&ticket=1', '/history?session=a', '/cancel?session=a&ticket=1', '/sessions', '/view?session=a'];

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : [full];
  });
}

/** A raw request, for paths and bytes fetch() would normalise away. */
function rawGet(port: number, target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('authentication', () => {
  it.each(AUTHENTICATED)('refuses %s without a hash or with a wrong one (401, JSON)', async (target) => {
    const missing = await server.get(target, { auth: false });
    expect(missing.status).toBe(401);
    expect(missing.json).toMatchObject({ error: expect.any(String), hint: expect.any(String) });
    const wrong = await server.get(`${target}${target.includes('?') ? '&' : '?'}hash=${'x'.repeat(40)}`, { auth: false });
    expect(wrong.status).toBe(401);
    const almost = await server.get(`${target}${target.includes('?') ? '&' : '?'}hash=${server.hash.slice(0, -1)}`, { auth: false });
    expect(almost.status).toBe(401);
  });

  it('accepts the hash as Authorization: Bearer', async () => {
    const answer = await server.get('/sessions', { auth: false, headers: { Authorization: `Bearer ${server.hash}` } });
    expect(answer.status).toBe(200);
    const wrong = await server.get('/sessions', { auth: false, headers: { Authorization: `Bearer nope${server.hash}` } });
    expect(wrong.status).toBe(401);
  });

  it('needs no hash for / and /healthz', async () => {
    expect((await server.get('/', { auth: false })).status).toBe(200);
    expect((await server.get('/healthz', { auth: false })).json).toEqual({ ok: true });
  });

  it('marks authenticated answers Cache-Control: no-store', async () => {
    const answer = await server.get('/sessions');
    expect(answer.headers.get('cache-control')).toBe('no-store');
    const denied = await server.get('/sessions', { auth: false });
    expect(denied.headers.get('cache-control')).toBe('no-store');
  });
});

describe('session names', () => {
  const BAD = ['..', '../x', 'a/b', '.hidden', '-dash', '_under', 'a'.repeat(65), 'a b', 'a%2Fb', 'é', 'a\0b', 'audit.jsonl', '.llmass'];
  it.each(BAD)('refuses session %j with 400 and creates nothing', async (name) => {
    const before = fs.readdirSync(server.sessionsDir).sort();
    for (const endpoint of ['/shell', '/callback', '/history', '/view', '/cancel']) {
      const answer = await server.get(server.url(endpoint, { session: name, cmd: 'touch pwned', ticket: 1 }));
      expect(answer.status, `${endpoint} session=${JSON.stringify(name)}`).toBe(400);
      expect(answer.json.hint).toBeTruthy();
    }
    expect(fs.readdirSync(server.sessionsDir).sort()).toEqual(before);
    expect(fs.existsSync(path.join(server.sessionsDir, '..', 'pwned'))).toBe(false);
  });

  it('accepts names of the documented form', async () => {
    for (const name of ['a', 'A9', 'x_y-z', 'Z'.repeat(64)]) {
      const result = await run(server, 'true', { session: name });
      expect(result.session).toBe(name);
    }
  });
});

describe('the hash never leaks', () => {
  it('is absent from the log, the ticket files, the audit log and the shell state, even when URLs carrying it are logged', async () => {
    await run(server, 'echo hello; export SOMETHING=1', { session: 'leak' });
    await server.get(`/nosuchpath?hash=${server.hash}`, { auth: false });
    await server.get(`/shell?cmd=echo&hash=${server.hash}&session=leak%2F..`, { auth: false });
    await server.get('/sessions', { auth: false, headers: { Authorization: `Bearer ${server.hash}` } });
    await run(server, 'env', { session: 'leak' });
    // The shell state is kept just after the answer: scan once the session is no longer busy.
    expect(await until(async () => (await server.get('/sessions')).json.sessions.every((entry: { busy: boolean }) => !entry.busy))).toBe(true);
    const printed = server.output();
    expect(printed).toContain('"path":"/nosuchpath"');
    expect(printed).not.toContain(server.hash);
    for (const file of filesUnder(server.dir)) {
      if (file.endsWith('.env')) continue;
      expect(fs.readFileSync(file, 'utf8'), file).not.toContain(server.hash);
    }
  });

  it('does not pass the hash to commands in their environment', async () => {
    const result = await run(server, 'env | grep -c "^HASH=" || true', { session: 'envhash' });
    expect(result.output.trim()).toBe('0');
  });

  it('does not show the hash on /', async () => {
    const page = await server.get('/', { auth: false });
    expect(page.text).not.toContain(server.hash);
  });
});

describe('bad input', () => {
  const TARGETS = [
    '/shell?cmd=%',
    '/shell?cmd=%E0%A4%A',
    '/shell?cmd=%C0%AF',
    '/shell?cmd=a&cmd=b',
    '/shell?cmd=',
    '/shell?cmd=%20%20',
    '/shell?cmd=echo%00x',
    '/shell',
    '/shell?cmd=true&timeout=99999999999999999999999',
    '/shell?cmd=true&timeout=-1',
    '/shell?cmd=true&timeout=0',
    '/shell?cmd=true&wait=abc',
    '/shell?cmd=true&nonce=' + 'n'.repeat(300),
    '/callback?session=a&ticket=99999999999999999999999999',
    '/callback?session=a&ticket=',
    '/callback?ticket=1',
    '/callback?session=a&ticket=1&offset=-5',
    '/callback?session=a&ticket=1&format=xml',
    '/history?session=%F0%9F%98%80',
    '/history?session=a&session=b',
    '/%',
    '/shell?%=1',
    '/shell?cmd=true&%ZZ',
  ];
  it.each(TARGETS)('answers %s with a 4xx JSON error and a hint', async (target) => {
    const sep = target.includes('?') ? '&' : '?';
    const answer = await rawGet(server.port, `${target}${sep}hash=${server.hash}`);
    expect(answer.status, answer.body).toBeGreaterThanOrEqual(400);
    expect(answer.status, answer.body).toBeLessThan(500);
    const body = JSON.parse(answer.body);
    expect(body.error).toBeTruthy();
    expect(body.hint).toBeTruthy();
  });

  it('answers other methods with 405 and Allow', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const answer = await server.get('/shell?cmd=id', { method });
      expect(answer.status).toBe(405);
      expect(answer.headers.get('allow')).toBe('GET, HEAD');
    }
  });

  it('answers an unknown path with 404 and a hint', async () => {
    const answer = await server.get('/nope');
    expect(answer.status).toBe(404);
    expect(answer.json.hint).toContain('/context');
  });

  it('survives a burst of random garbage and still serves', async () => {
    const alphabet = ['%', '%00', '%FF', '&', '=', '?', '/', '..', 'é', '+', 'cmd', 'session', 'ticket', 'hash', '\u2028', '%C3', '#'];
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 300; i += 1) {
      const parts = Array.from({ length: 1 + random(12) }, () => alphabet[random(alphabet.length)]).join('');
      const endpoint = ['/shell', '/callback', '/history', '/cancel', '/view'][random(5)];
      const answer = await rawGet(server.port, encodeURI(`${endpoint}?hash=${server.hash}&${parts}`).replace(/%25/g, '%'));
      expect(answer.status, `${endpoint}?${parts}`).toBeLessThan(500);
    }
    expect((await server.get('/healthz', { auth: false })).status).toBe(200);
    expect(server.proc.exitCode).toBeNull();
  });
});

/** Sends a request head and then as much of its body as `body` gives, and reads the answer (or the close). */
function partialPost(port: number, headers: Record<string, string | number>, body: Buffer | undefined): Promise<{ status: number; text: string; closedAfterMs: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/mcp', method: 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, closedAfterMs: Date.now() - started }));
    });
    req.on('error', (error) => reject(error));
    if (body !== undefined) req.write(body);
    // The body is never finished: only the server's limits end this request.
  });
}

describe('requests that arrive slowly or too large', () => {
  it('closes a body that never finishes arriving within 15 s, while a long-poll that waits longer is answered', async () => {
    const submitted = await server.get(server.url('/shell', { session: 'longpoll', cmd: 'sleep 17; echo woke' }));
    const poll = server.get(server.url('/callback', { session: 'longpoll', ticket: submitted.json.ticket, wait: 25 }));
    const slow = await partialPost(server.port, { 'Content-Type': 'application/json', 'Content-Length': 100, Authorization: `Bearer ${server.hash}` }, Buffer.from('{"jsonrpc"'));
    expect(slow.status).toBe(408);
    expect(JSON.parse(slow.text)).toMatchObject({ error: expect.stringMatching(/did not arrive in time/) });
    expect(slow.closedAfterMs).toBeGreaterThanOrEqual(14_000);
    expect(slow.closedAfterMs).toBeLessThan(20_000);
    expect((await poll).json).toMatchObject({ type: 'result', status: 'done', output: 'woke\n' });
  }, 40_000);

  it('answers a 20 MB MCP body with a 413 that reaches the client', async () => {
    const twenty = Buffer.alloc(20 * 1024 * 1024, 0x20);
    for (const headers of [{ 'Content-Length': twenty.length }, { 'Transfer-Encoding': 'chunked' }]) {
      const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: server.port, path: '/mcp', method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${server.hash}`, ...headers } }, (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          // The answer is in: the rest of the body goes nowhere (a write into a closed socket would reset).
          res.on('end', () => {
            req.destroy();
            resolve({ status: res.statusCode ?? 0, text });
          });
        });
        req.on('error', reject);
        req.end(twenty);
      });
      expect(answer.status).toBe(413);
      expect(JSON.parse(answer.text)).toMatchObject({ error: expect.stringMatching(/larger than 1 MiB/), hint: expect.any(String) });
    }
    expect((await server.get('/healthz', { auth: false })).status).toBe(200);
  });
});
