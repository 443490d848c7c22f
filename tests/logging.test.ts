// One structured log line per request, with the hash redacted wherever it appears.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logging/logger.js';
import { Redactor } from '../src/logging/redact.js';
import { run, startServer, stopAll, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(stopAll);

function requestLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((line) => line.includes('"msg":"request"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('request log', () => {
  it('writes one line per request with method, path, status, ms, session and ticket', async () => {
    const result = await run(server, 'echo logged', { session: 'logs' });
    const before = requestLines(server.output()).length;
    await server.get(server.url('/callback', { session: 'logs', ticket: result.ticket }));
    await server.get('/nope');
    // The line is written when the answer is done: wait for it through the output stream.
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (requestLines(server.output()).some((line) => line.path === '/nope')) resolve();
        else server.proc.stdout?.once('data', check);
      };
      check();
    });
    const lines = requestLines(server.output()).slice(before);
    const callback = lines.find((line) => line.path === '/callback');
    expect(callback).toMatchObject({ method: 'GET', path: '/callback', status: 200, session: 'logs', ticket: result.ticket });
    expect(typeof callback?.ms).toBe('number');
    expect(lines.find((line) => line.path === '/nope')).toMatchObject({ method: 'GET', status: 404 });
    expect(server.output()).not.toContain(server.hash);
  });
});

describe('redaction', () => {
  it('replaces the exact secret wherever it appears, and nothing else', () => {
    const secret = 's'.repeat(40);
    const redactor = new Redactor([secret]);
    expect(redactor.text(`GET /shell?cmd=x&hash=${secret}&y=1`)).toBe('GET /shell?cmd=x&hash=REDACTED&y=1');
    // A pattern is not a secret: other values after hash= or bearer are left exactly as they are.
    expect(redactor.text('GET /x?hash=other-guess')).toBe('GET /x?hash=other-guess');
    expect(redactor.text(': bearer $(payload) "bearer x"')).toBe(': bearer $(payload) "bearer x"');
    expect(redactor.text(`plain ${secret}${secret} text`)).toBe('plain REDACTEDREDACTED text');
  });

  it('is applied by the logger to every value before serializing, so every line stays JSON', () => {
    const secret = 'q'.repeat(40);
    const lines: string[] = [];
    const logger = createLogger(new Redactor([secret]), { write: (line: string) => lines.push(line) });
    logger.info('x', { url: `/a?hash=${secret}`, nested: { value: secret, list: [secret] }, tricky: '"bearer x" \\ \u2028' });
    logger.flush();
    const text = lines.join('');
    expect(text).not.toContain(secret);
    const line = JSON.parse(text);
    expect(line).toMatchObject({ url: '/a?hash=REDACTED', nested: { value: 'REDACTED', list: ['REDACTED'] }, tricky: '"bearer x" \\ \u2028' });
  });

  it('redacts output arriving in chunks, with the secret split across any two of them', () => {
    const secret = 'S3cr3t-'.repeat(6);
    const redactor = new Redactor([secret]);
    const text = `a${secret}b${secret.slice(0, 10)}c${secret}${secret}`;
    const bytes = Buffer.from(text);
    for (let cut = 0; cut <= bytes.length; cut += 1) {
      for (const second of [cut, Math.min(bytes.length, cut + 7)]) {
        const stream = redactor.stream();
        const out = Buffer.concat([stream.push(bytes.subarray(0, cut)), stream.push(bytes.subarray(cut, second)), stream.push(bytes.subarray(second)), stream.end()]);
        expect(out.toString()).toBe(`aREDACTEDb${secret.slice(0, 10)}cREDACTEDREDACTED`);
      }
    }
  });
});

describe('request log lines name who asked', () => {
  it('carry the client address and the key\'s name, never a secret, kept answers included', async () => {
    const { inProcessApp, closeInProcessApps } = await import('./helpers/inProcess.js');
    try {
      const app = await inProcessApp();
      const submitted = (await app.get('/shell', { session: 'who', cmd: 'true', wait: 10 })).json<{ ticket: number }>();
      const target = `/callback?hash=${app.hash}&session=who&ticket=${submitted.ticket}`;
      await app.app.inject({ url: target, remoteAddress: '127.0.0.7' });
      // The same URL again, from elsewhere: a kept answer, whose line still names its own client.
      await app.app.inject({ url: target, remoteAddress: '127.0.0.8' });
      await app.app.inject({ url: '/nowhere', remoteAddress: '127.0.0.9' });
      await new Promise((resolve) => setImmediate(resolve));
      const lines = app.logLines.join('').split('\n').filter((line) => line.includes('"msg":"request"')).map((line) => JSON.parse(line) as Record<string, unknown>);
      const callbacks = lines.filter((line) => line.path === '/callback');
      expect(callbacks.map((line) => [line.client, line.key])).toEqual([
        ['127.0.0.7', 'HASH'],
        ['127.0.0.8', 'HASH'],
      ]);
      expect(lines.find((line) => line.path === '/nowhere')).toMatchObject({ client: '127.0.0.9', status: 404 });
      expect(app.logLines.join('')).not.toContain(app.hash);
    } finally {
      await closeInProcessApps();
    }
  });
});
