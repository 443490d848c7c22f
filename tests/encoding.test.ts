// cmd is URL-decoded exactly once: what the agent encoded is what the shell runs.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startServer, stopAll, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(stopAll);

const COMMANDS = [
  "printf '%d\\n' 5",
  'echo a+b',
  'echo %41 %2B %25 100%',
  "echo '&' \"&&\" ';'",
  'echo "it\'s" \'say "hi"\'',
  'echo line1\necho line2',
  'echo "a  b"   c',
  'echo $((1+2))',
  'echo héllo ✓ 日本',
  "echo '#not a comment' x=1&y=2",
];

describe('cmd decoding', () => {
  it.each(COMMANDS)('runs %j exactly as encoded', async (cmd) => {
    const result = await run(server, cmd, { session: 'enc' });
    expect(result.input).toBe(cmd);
    const expected = execFileSync('/bin/bash', ['-c', cmd], { encoding: 'utf8' });
    expect(result.output).toBe(expected);
    expect(result.exit_code).toBe(0);
  });

  it('runs date +%s as the agent meant it', async () => {
    const result = await run(server, 'date +%s', { session: 'enc' });
    expect(result.output).toMatch(/^\d{10}\n$/);
  });

  it('reads a bare + as a space (form encoding) and %2B as a plus', async () => {
    const submitted = await server.get(`/shell?hash=${server.hash}&session=plus&cmd=echo+1%2B1`);
    expect(submitted.json.input).toBe('echo 1+1');
  });

  it('accepts the command as base64url in cmd64', async () => {
    const cmd = "printf '%s\\n' \"a+b & c\" 100%";
    const submitted = await server.get(server.url('/shell', { session: 'b64', cmd64: Buffer.from(cmd).toString('base64url'), wait: 10 }));
    expect(submitted.json.input).toBe(cmd);
    expect(submitted.json.output).toBe('a+b & c\n100%\n');
  });

  it('refuses cmd and cmd64 together, bad base64url, and bytes that are not UTF-8', async () => {
    const both = await server.get(server.url('/shell', { cmd: 'ls', cmd64: 'bHM' }));
    expect(both.status).toBe(400);
    const bad = await server.get(server.url('/shell', { cmd64: 'not base64!' }));
    expect(bad.status).toBe(400);
    const notUtf8 = await server.get(`/shell?hash=${server.hash}&cmd=echo%FF`);
    expect(notUtf8.status).toBe(400);
    expect(notUtf8.json.hint).toMatch(/cmd64/);
    const badPercent = await server.get(`/shell?hash=${server.hash}&cmd=echo%zz`);
    expect(badPercent.status).toBe(400);
  });

  it('sends Content-Length in bytes for small and large answers with multi-byte characters', async () => {
    // Small answers go out as a string and large ones as a Buffer: both must count bytes.
    const short = await run(server, 'echo héllo ✓ 日本', { session: 'bytes' });
    const long = await run(server, "yes '日本語' | head -c 200000", { session: 'bytes' });
    const small = await server.get(server.url('/callback', { session: 'bytes', ticket: short.ticket }));
    const large = await server.get(server.url('/callback', { session: 'bytes', ticket: long.ticket, offset: 0, limit: 200000 }));
    expect(large.text.length).toBeGreaterThan(64 * 1024);
    for (const answer of [small, large]) {
      expect(answer.status).toBe(200);
      expect(Number(answer.headers.get('content-length'))).toBe(Buffer.byteLength(answer.text, 'utf8'));
      expect(answer.text.length).toBeLessThan(Buffer.byteLength(answer.text, 'utf8'));
    }
    expect(large.json.output).toBe('日本語\n'.repeat(20000));
  });
});
