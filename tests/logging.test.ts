// One structured log line per request, with the hash redacted wherever it appears.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, redact } from '../src/log.js';
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

describe('redact', () => {
  it('removes the secret, hash= values and bearer tokens from any line', () => {
    const secret = 's'.repeat(40);
    expect(redact(`GET /shell?cmd=x&hash=${secret}&y=1`, secret)).toBe('GET /shell?cmd=x&hash=REDACTED&y=1');
    expect(redact('GET /x?hash=other-guess', secret)).toBe('GET /x?hash=REDACTED');
    expect(redact('Authorization: Bearer abc.def', secret)).toBe('Authorization: Bearer REDACTED');
    expect(redact(`plain ${secret} text`, secret)).toBe('plain REDACTED text');
  });

  it('is applied by the logger to every field', () => {
    const secret = 'q'.repeat(40);
    const lines: string[] = [];
    const logger = createLogger(secret, { write: (line: string) => lines.push(line) });
    logger.info('x', { url: `/a?hash=${secret}`, nested: { value: secret } });
    expect(lines.join('')).not.toContain(secret);
  });
});
