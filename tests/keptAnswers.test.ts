// Kept answers: a finished ticket's /callback answer is sent again, before any parsing, to the
// same request (target, and Authorization header when the key is there). What a full answer
// checks must still hold for it: the lock-out, a removed key, a token's expiry, HEAD, the log.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AnswerCache, keptAnswer } from '../src/http/keptAnswers.js';
import { run, startServer, stopAll, tempDir, until, type TestServer } from './helpers/server.js';

afterEach(stopAll);

function requestLines(server: TestServer): Array<Record<string, unknown>> {
  return server
    .output()
    .split('\n')
    .filter((line) => line.includes('"msg":"request"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

let marks = 0;
/**
 * The request lines written so far, all of them: a request to a path of its own is made and its
 * line waited for (lines are written in order, a turn of the event loop after their answer).
 */
async function flushedLines(server: TestServer): Promise<Array<Record<string, unknown>>> {
  marks += 1;
  const path = `/mark-${marks}`;
  await server.get(path);
  expect(await until(() => requestLines(server).some((line) => line.path === path), 5000)).toBe(true);
  return requestLines(server).filter((line) => !String(line.path).startsWith('/mark-'));
}

describe('a kept answer', () => {
  it('is the same bytes and headers, logs a line each time, and answers HEAD without a body', async () => {
    const server = await startServer();
    const result = await run(server, 'echo kept', { session: 'k' });
    const url = server.url('/callback', { session: 'k', ticket: result.ticket });
    const first = await server.get(url);
    const second = await server.get(url);
    expect(second.text).toBe(first.text);
    expect(JSON.parse(second.text)).toMatchObject({ type: 'result', output: 'kept\n' });
    for (const answer of [first, second]) {
      expect(answer.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(answer.headers.get('cache-control')).toBe('no-store');
      expect(Number(answer.headers.get('content-length'))).toBe(Buffer.byteLength(first.text));
    }
    const head = await server.get(url, { method: 'HEAD' });
    expect([head.status, head.text, head.headers.get('content-length')]).toEqual([200, '', String(Buffer.byteLength(first.text))]);
    const before = (await flushedLines(server)).length;
    await server.get(url);
    const lines = (await flushedLines(server)).slice(before);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', method: 'GET', path: '/callback', status: 200, session: 'k', ticket: result.ticket });
    expect(typeof lines[0]?.ms).toBe('number');
    expect(typeof lines[0]?.time).toBe('string');
    expect(server.output()).not.toContain(server.hash);
  });

  it('answers a poll with a new cursor from the kept answer, and a cursor it never hands out with 400', async () => {
    const server = await startServer();
    const result = await run(server, 'echo cursors', { session: 'kc' });
    const target = server.url('/callback', { session: 'kc', ticket: result.ticket });
    // The full path sets Cache-Control before the rest; a kept answer sends its list in order.
    const firstHeader = (cursor: string) =>
      new Promise<{ status: number; first: string; body: string }>((resolve, reject) => {
        http.get(`${server.base}${target}&cursor=${cursor}`, (res) => {
          let body = '';
          res.on('data', (chunk) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, first: String(res.rawHeaders[0]).toLowerCase(), body }));
        }).on('error', reject);
      });
    const full = await firstHeader('a1');
    expect(full).toMatchObject({ status: 200, first: 'cache-control' });
    const kept = await firstHeader('a2');
    expect(kept).toMatchObject({ status: 200, first: 'content-type', body: full.body });
    expect(await firstHeader('A3')).toMatchObject({ status: 400, first: 'cache-control' });
  });

  it('is refused to a client locked out since', async () => {
    const server = await startServer({ env: { AUTH_MAX_FAILURES: '2', AUTH_WINDOW: '60' } });
    const result = await run(server, 'echo locked', { session: 'lk' });
    const url = server.url('/callback', { session: 'lk', ticket: result.ticket });
    expect((await server.get(url)).status).toBe(200);
    expect((await server.get(url)).status).toBe(200);
    for (const wrong of ['bad1', 'bad2']) expect((await server.get(`/sessions?hash=${wrong}`, { auth: false })).status).toBe(401);
    const locked = await server.get(url);
    expect(locked.status).toBe(429);
    expect(locked.json.hint).toMatch(/wait/);
  });

  it('is refused once its key is removed, and is kept per Authorization header', async () => {
    const dir = tempDir();
    const keysFile = path.join(dir, 'keys');
    const alice = crypto.randomBytes(24).toString('base64url');
    fs.writeFileSync(keysFile, `alice ${alice}\n`);
    const server = await startServer({ dir, env: { KEYS_FILE: keysFile, AUTH_MAX_FAILURES: '50' } });
    const bearer = { auth: false, headers: { Authorization: `Bearer ${alice}` } };
    expect((await server.get('/shell?session=ak&wait=10&cmd=echo%20a', bearer)).json.output).toBe('a\n');
    const target = '/callback?session=ak&ticket=1';
    const inUrl = `${target}&hash=${alice}`;
    for (let i = 0; i < 2; i += 1) {
      expect((await server.get(target, bearer)).status).toBe(200);
      expect((await server.get(inUrl, { auth: false })).status).toBe(200);
    }
    // The same target without the header, or with another, is not the same request.
    expect((await server.get(target, { auth: false })).status).toBe(401);
    expect((await server.get(target, { auth: false, headers: { Authorization: 'Bearer not-the-key' } })).status).toBe(401);
    fs.writeFileSync(keysFile, '');
    server.proc.kill('SIGHUP');
    expect(await until(async () => (await server.get(target, bearer)).status === 401, 2000)).toBe(true);
    expect((await server.get(inUrl, { auth: false })).status).toBe(401);
  });

  it('is never sent for a token past its expiry', async () => {
    // TOKEN_TTL 3 s: answers are kept (and tokens reused) for 0.3 s, so a token is presented
    // and its answer kept again and again up to the moment it expires.
    const server = await startServer({ env: { TOKEN_TTL: '3', AUTH_MAX_FAILURES: '1000' } });
    const result = await run(server, 'echo t', { session: 'tk' });
    const token = /token=([^&]+)/.exec(result.shell)?.[1] ?? '';
    const expiresAt = parseInt(token.split('.')[3] ?? '', 36) * 1000;
    const url = `/callback?token=${token}&session=tk&ticket=${result.ticket}`;
    const answers: Array<{ sentAt: number; status: number }> = [];
    while (Date.now() < expiresAt + 500) {
      const sentAt = Date.now();
      answers.push({ sentAt, status: (await server.get(url, { auth: false })).status });
    }
    expect(answers.some((answer) => answer.sentAt < expiresAt - 100 && answer.status === 200)).toBe(true);
    expect(answers.filter((answer) => answer.sentAt >= expiresAt && answer.status !== 401)).toEqual([]);
    expect(answers.some((answer) => answer.sentAt >= expiresAt)).toBe(true);
  });

  it('is not kept when its log line would name a secret (a session named like the key)', async () => {
    const hash = `a${crypto.randomBytes(24).toString('hex')}`;
    const server = await startServer({ hash });
    const result = await run(server, 'true', { session: hash });
    const url = server.url('/callback', { session: hash, ticket: result.ticket });
    const before = (await flushedLines(server)).length;
    for (let i = 0; i < 3; i += 1) expect((await server.get(url)).status).toBe(200);
    const lines = (await flushedLines(server)).slice(before);
    expect(lines.map((line) => line.session)).toEqual(['REDACTED', 'REDACTED', 'REDACTED']);
    expect(server.output()).not.toContain(hash);
  });
});

describe('AnswerCache', () => {
  const answer = keptAnswer('{"a":1}\n', 'application/json; charset=utf-8', '"method":"GET","path":"/callback","status":200,"ms":', '}');

  it('keeps an answer for reuseMs, or until the credential expires if sooner; clear() forgets all', () => {
    let now = 0;
    const cache = new AnswerCache(60_000, 2, () => now);
    cache.set('a', answer);
    cache.set('t', answer, 30_000);
    now = 29_999;
    expect([cache.get('a'), cache.get('t')]).toEqual([answer, answer]);
    now = 30_000;
    expect([cache.get('a'), cache.get('t')]).toEqual([answer, undefined]);
    now = 60_000;
    expect(cache.get('a')).toBeUndefined();
    cache.set('a', answer);
    cache.set('b', answer);
    cache.set('c', answer);
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([undefined, answer, answer]);
    cache.clear();
    expect(cache.get('c')).toBeUndefined();
  });

  it('holds no more than its budget in bytes, the oldest going first; drops the expired when a newer answer comes; keeps none larger than the budget', () => {
    let now = 0;
    const sized = (n: number) => keptAnswer('x'.repeat(n), 'application/json; charset=utf-8', '"method":"GET","path":"/callback","status":200,"ms":', '}');
    const cache = new AnswerCache(60_000, 100, () => now, 1000);
    cache.set('a', sized(399));
    cache.set('b', sized(399));
    expect(cache.size).toEqual({ answers: 2, bytes: 800 });
    // A third would pass the budget: the oldest goes.
    cache.set('c', sized(399));
    expect([cache.get('a'), cache.get('b')?.body.length, cache.get('c')?.body.length]).toEqual([undefined, 399, 399]);
    expect(cache.size).toEqual({ answers: 2, bytes: 800 });
    // Set again, an answer counts once.
    cache.set('c', sized(99));
    expect(cache.size).toEqual({ answers: 2, bytes: 500 });
    // Expired answers go when a newer one comes, though nobody asked for them again.
    now = 60_000;
    cache.set('d', sized(9));
    expect(cache.size).toEqual({ answers: 1, bytes: 10 });
    // One larger than the whole budget is not kept, and takes nothing else with it.
    cache.set('e', sized(1000));
    expect([cache.get('e'), cache.get('d')?.body.length]).toEqual([undefined, 9]);
    cache.clear();
    expect(cache.size).toEqual({ answers: 0, bytes: 0 });
  });

  it('keys a request by its target less the cursor\'s value, and by its Authorization header only when given', () => {
    expect(AnswerCache.requestKey('/callback?x=1', undefined)).toBe('/callback?x=1');
    expect(AnswerCache.requestKey('/callback?x=1&cursor=b1', undefined)).toBe(AnswerCache.requestKey('/callback?x=1&cursor=zz9', undefined));
    expect(AnswerCache.requestKey('/callback?cursor=b1&x=1', undefined)).toBe(AnswerCache.requestKey('/callback?cursor=c2&x=1', undefined));
    // A value this server never hands out keeps its own key: the full path answers it (400).
    expect(AnswerCache.requestKey('/callback?x=1&cursor=B1', undefined)).not.toBe(AnswerCache.requestKey('/callback?x=1&cursor=b1', undefined));
    expect(AnswerCache.requestKey('/callback?x=1&xcursor=b1', undefined)).not.toBe(AnswerCache.requestKey('/callback?x=1&xcursor=b2', undefined));
    expect(AnswerCache.requestKey('/callback?x=1', 'Bearer k')).not.toBe(AnswerCache.requestKey('/callback?x=1', 'Bearer j'));
    expect(answer.headers).toEqual(['Content-Type', 'application/json; charset=utf-8', 'Content-Length', '8', 'Cache-Control', 'no-store']);
  });
});
