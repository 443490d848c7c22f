// Answers an agent can trust: replays that cannot lie, poll URLs no cache can replay, strict
// parameters, output kept draining for background processes, honest truncation, compact
// answers, and text answers whose first line says ticket, status and exit code.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startServer, stopAll, until, waitFinal, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  // A production-sized key, so that measured sizes are honest.
  server = await startServer({ hash: crypto.randomBytes(36).toString('base64url'), env: { DEDUP_WINDOW: '2' } });
});
afterAll(stopAll);

const local = (url: string): string => url.replace(/^http:\/\/localhost:\d+/, '');

describe('replays that cannot lie', () => {
  it('runs the same command again after the session changed in between (the edit–run loop)', async () => {
    await run(server, "printf 'echo mean: 2.5\\n' > main.sh", { session: 'loop' });
    const runUrl = server.url('/shell', { session: 'loop', cmd: 'bash main.sh', wait: 10 });
    const first = (await server.get(runUrl)).json;
    expect(first).toMatchObject({ status: 'done', exit_code: 0, output: 'mean: 2.5\n', cached: false });
    await run(server, "sed -i 's/echo mean: 2.5/echo broken; exit 3/' main.sh", { session: 'loop' });
    const again = (await server.get(runUrl)).json;
    expect(again).toMatchObject({ status: 'done', exit_code: 3, output: 'broken\n', cached: false });
    expect(again.ticket).toBe(first.ticket + 2);
  });

  it('answers an immediate identical repeat as a replay, saying so and how to run it again', async () => {
    const url = server.url('/shell', { session: 'rep', cmd: 'echo once' });
    const first = (await server.get(url)).json;
    const second = (await server.get(url)).json;
    expect(second).toMatchObject({ ticket: first.ticket, cached: true });
    expect(second.next).toMatch(new RegExp(`replay of ticket ${first.ticket}, the same request made \\d+ s ago`));
    expect(second.next).toMatch(/&nonce=/);
    const withNonce = (await server.get(server.url('/shell', { session: 'rep', cmd: 'echo once', nonce: 'b' }))).json;
    expect(withNonce).toMatchObject({ ticket: first.ticket + 1, cached: false });
    // Different parameters are a different request: cmd64 of the same text runs.
    const as64 = (await server.get(server.url('/shell', { session: 'rep', cmd64: Buffer.from('echo once').toString('base64') }))).json;
    expect(as64).toMatchObject({ ticket: first.ticket + 2, cached: false });
  });

  it('replays a still-running command however late, and runs it again once finished past DEDUP_WINDOW', async () => {
    const url = server.url('/shell', { session: 'late', cmd: 'sleep 3; echo slept' });
    const first = (await server.get(url)).json;
    await new Promise((resolve) => setTimeout(resolve, 2500)); // longer than DEDUP_WINDOW (2 s)
    const late = (await server.get(url)).json;
    expect(late).toMatchObject({ ticket: first.ticket, cached: true });
    await waitFinal(server, 'late', first.ticket);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const after = (await server.get(url)).json;
    expect(after).toMatchObject({ ticket: first.ticket + 1, cached: false });
  });
});

describe('cache-proof polling', () => {
  it('hands out a new poll URL with every answer, each of which works as given', async () => {
    const submitted = (await server.get(server.url('/shell', { session: 'poll', cmd: 'echo a; sleep 1.5; echo b' }))).json;
    const status = (await server.get(local(submitted.callback))).json;
    expect(status.status).toBe('running');
    const urls = [submitted.callback, submitted.poll, status.poll];
    expect(new Set(urls).size).toBe(urls.length);
    const viaNewPoll = (await server.get(local(status.poll))).json;
    const viaOldPoll = (await server.get(local(submitted.poll))).json;
    for (const answer of [viaNewPoll, viaOldPoll]) expect(answer).toMatchObject({ type: 'result', output: 'a\nb\n' });
  });
});

describe('strict parameters', () => {
  it('refuses a misspelt or foreign parameter, naming the closest one the endpoint takes', async () => {
    const cases: Array<[string, Record<string, string | number>, RegExp]> = [
      ['/shell', { sesion: 'x', cmd: 'ls' }, /did you mean session\?/],
      ['/callback', { session: 'x', ticket: 1, wiat: 5 }, /did you mean wait\?/],
      ['/history', { session: 'x', ticket: 1 }, /\/history takes session, after, format/],
      ['/cancel', { session: 'x', ticket: 1, wait: 1 }, /\/cancel takes session, ticket/],
    ];
    for (const [endpoint, params, hint] of cases) {
      const answer = await server.get(server.url(endpoint, params));
      expect(answer.status, endpoint).toBe(400);
      expect(answer.json.hint).toMatch(hint);
    }
  });

  it('takes cmd64 in standard and URL-safe base64, padded or not, + even unencoded', async () => {
    const cmd = 'echo "ab?>>~"';
    const standard = Buffer.from(cmd).toString('base64');
    expect(standard).toMatch(/[+/]/);
    const variants = [standard, standard.replace(/=+$/, ''), Buffer.from(cmd).toString('base64url'), `${Buffer.from(cmd).toString('base64url')}==`];
    for (const [i, variant] of variants.entries()) {
      const answer = await server.get(server.url('/shell', { session: 'b64', cmd64: variant, nonce: i, wait: 10 }));
      expect(answer.json.output, variant).toBe('ab?>>~\n');
    }
    const raw = await server.get(`/shell?hash=${server.hash}&session=b64&nonce=raw&wait=10&cmd64=${standard}`);
    expect(raw.json.output).toBe('ab?>>~\n');
  });

  it('shortens a wait above MAX_WAIT and says so', async () => {
    const answer = await server.get(server.url('/shell', { session: 'w', cmd: 'echo quick', wait: 300 }));
    expect(answer.json.notice).toBe('wait=300 was shortened to 40 s, the longest this server holds an answer here.');
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

describe('background processes', () => {
  it('keep their output pipe after the ticket ends, and the answer names them', async () => {
    const port = await freePort();
    const result = await run(server, `python3 -u -m http.server ${port} --bind 127.0.0.1 & sleep 1; echo started`, { session: 'bg' });
    expect(result).toMatchObject({ status: 'done', exit_code: 0 });
    const pid = result.background?.[0]?.pid;
    try {
      expect(result.background?.[0]?.command).toMatch(/http\.server/);
      expect(result.next).toMatch(/Still running in the background: pid \d+/);
      // The server logs every request to the closed ticket's pipe: before, that killed it.
      for (let i = 0; i < 3; i += 1) {
        const answer = await fetch(`http://127.0.0.1:${port}/`);
        expect(answer.status).toBe(200);
        await answer.text();
      }
      const again = (await server.get(server.url('/callback', { session: 'bg', ticket: result.ticket }))).json;
      expect(again.background).toEqual(result.background);
    } finally {
      if (pid !== undefined) process.kill(pid, 'SIGTERM');
    }
    expect(await until(async () => (await server.get(server.url('/callback', { session: 'bg', ticket: result.ticket }))).json.background === undefined)).toBe(true);
  });

  it('keep writing after the ticket ended without dying of a closed pipe', async () => {
    const marker = path.join(server.dir, 'alive');
    const result = await run(server, `(sleep 0.5; for i in 1 2 3 4 5; do echo late; done; echo alive > ${marker}) & echo now`, { session: 'bg2' });
    expect(result.output).toBe('now\n');
    expect(await until(() => fs.existsSync(marker), 5000)).toBe(true);
  });
});

describe('honest truncation', () => {
  it('says how many bytes were dropped for good and answers 416 for a window beyond what was stored', async () => {
    const result = await run(server, 'seq 1 2000000', { session: 'trunc' });
    expect(result.truncated).toBe(true);
    expect(result.output_bytes).toBeGreaterThan(14_000_000);
    expect(result.output_dropped_bytes).toBe(result.output_bytes - 1_048_576);
    expect(result.next).toMatch(/not stored \(gone for good\)/);
    expect(result.next).toMatch(/grep, sed -n or tail/);
    const first = (await server.get(server.url('/callback', { session: 'trunc', ticket: result.ticket, offset: 0, limit: 1000 }))).json;
    expect(first.output_stored_bytes).toBeGreaterThan(1_048_576);
    const marker = (await server.get(server.url('/callback', { session: 'trunc', ticket: result.ticket, offset: 524_288, limit: 300 }))).json;
    expect(marker.output).toMatch(/bytes of output were not stored \(dropped for good\)/);
    const beyond = await server.get(server.url('/callback', { session: 'trunc', ticket: result.ticket, offset: 5_000_000, limit: 100 }));
    expect(beyond.status).toBe(416);
    expect(beyond.json.hint).toMatch(/choose an offset from 0 to \d+/);
  });
});

describe('compact answers', () => {
  it('fits a one-line result in 800 bytes and a short history entry in 500', async () => {
    const answer = await server.get(server.url('/shell', { cmd: 'echo hello', wait: 10 }));
    expect(answer.json.status).toBe('done');
    expect(Buffer.byteLength(answer.text)).toBeLessThanOrEqual(800);
    const history = await server.get(server.url('/history', { session: answer.json.session }));
    expect(history.json).toHaveLength(1);
    expect(Buffer.byteLength(JSON.stringify(history.json[0]))).toBeLessThanOrEqual(500);
    expect(history.json[0]).not.toHaveProperty('shell');
    expect(history.json[0]).not.toHaveProperty('next');
  });
});

describe('text everywhere', () => {
  it('starts every text answer with ticket, status and exit code', async () => {
    const firstLine = (text: string): string => text.split('\n')[0] ?? '';
    const waited = await server.get(server.url('/shell', { session: 'txt', cmd: 'echo t; exit 2', wait: 10, format: 'text' }));
    expect(firstLine(waited.text)).toMatch(/^\[ticket 1 · done · exit 2 · \d+ ms\]$/);
    const submitted = await server.get(server.url('/shell', { session: 'txt', cmd: 'sleep 0.2', format: 'text' }));
    expect(firstLine(submitted.text)).toMatch(/^\[ticket 2 · (queued|running) · exit none yet\]$/);
    await waitFinal(server, 'txt', 2);
    const callback = await server.get(server.url('/callback', { session: 'txt', ticket: 1, format: 'text' }));
    expect(firstLine(callback.text)).toMatch(/^\[ticket 1 · done · exit 2/);
    const history = await server.get(server.url('/history', { session: 'txt', format: 'text' }));
    expect(firstLine(history.text)).toMatch(/^\[session txt · 2 ticket\(s\) · last: ticket 2 · done · exit 0/);
    const sessions = await server.get(server.url('/sessions', { format: 'text' }));
    expect(firstLine(sessions.text)).toMatch(/^\[\d+ session\(s\) · newest txt: ticket 2 · done · exit 0/);
    for (const answer of [waited, submitted, callback, history, sessions]) expect(answer.headers.get('content-type')).toMatch(/^text\/plain/);
  });
});
