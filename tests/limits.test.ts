// Size limits that match the docs (128 KiB commands; JSON for anything refused, even before a
// handler sees it) and a lock-out that holds while thousands of other addresses fail.
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { run, startServer, stopAll, type TestServer } from './helpers/server.js';

afterEach(stopAll);

function rawRequest(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(request));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

function bodyOf(answer: string): unknown {
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
}

describe('size limits', () => {
  it('runs a 100 KiB command', async () => {
    const server = await startServer();
    const payload = 'x'.repeat(100 * 1024);
    const result = await run(server, `printf %s ${payload} | wc -c`);
    expect(result.output.trim()).toBe(String(100 * 1024));
  });

  it('answers a command over 128 KiB with a JSON 414, and a 1 MB query with a JSON 431', async () => {
    const server = await startServer();
    const long = await server.get(server.url('/shell', { cmd: `echo ${'y'.repeat(130 * 1024)}` }));
    expect(long.status).toBe(414);
    expect(long.json.error).toMatch(/128 KiB/);
    const huge = await server.get(`/shell?cmd=${'z'.repeat(1024 * 1024)}`);
    expect(huge.status).toBe(431);
    expect(huge.json).toMatchObject({ error: expect.stringMatching(/larger than/), hint: expect.stringMatching(/128 KiB/) });
    expect(huge.headers.get('content-type')).toMatch(/application\/json/);
    const bigHeader = await server.get('/healthz', { auth: false, headers: { 'X-Filler': 'f'.repeat(600 * 1024) } });
    expect(bigHeader.status).toBe(431);
    expect(bigHeader.json.hint).toBeTruthy();
    const longUrl = await server.get(`/shell?pad=${'p'.repeat(450 * 1024)}`);
    expect(longUrl.status).toBe(414);
    expect(longUrl.json.hint).toBeTruthy();
  });

  it('answers a request that is not HTTP with JSON', async () => {
    const server = await startServer();
    const answer = await rawRequest(server.port, 'GARBAGE\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect(bodyOf(answer)).toMatchObject({ error: expect.any(String), hint: expect.any(String) });
    expect((await server.get('/healthz', { auth: false })).status).toBe(200);
  });
});

/** One GET from a given loopback source address. */
function getFrom(server: TestServer, localAddress: string, hash: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: server.port, path: `/sessions?hash=${hash}`, localAddress, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

describe('lock-out', () => {
  it('holds a locked client for its window while 10 500 other loopback addresses fail', async () => {
    const server = await startServer({ env: { AUTH_MAX_FAILURES: '3', AUTH_WINDOW: '600' } });
    const victim = '127.0.0.2';
    for (let i = 0; i < 3; i += 1) expect(await getFrom(server, victim, 'wrong')).toBe(401);
    expect(await getFrom(server, victim, server.hash)).toBe(429);
    const others = Array.from({ length: 10_500 }, (_, i) => `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`);
    for (let i = 0; i < others.length; i += 50) {
      const statuses = await Promise.all(others.slice(i, i + 50).map((address) => getFrom(server, address, 'wrong')));
      expect(statuses.every((status) => status === 401)).toBe(true);
    }
    expect(await getFrom(server, victim, server.hash)).toBe(429);
    expect(await getFrom(server, '127.0.0.3', server.hash)).toBe(200);
  }, 120_000);
});
