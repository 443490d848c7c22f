// Configuration: .env under the environment, refusal of weak secrets, and the first run.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, PLACEHOLDER_HASH, loadConfig, readEnv } from '../src/config/config.js';
import { ROOT, randomHash, startServer, stopAll, tempDir } from './helpers/server.js';

afterAll(stopAll);

describe('loadConfig', () => {
  const hash = 'h'.repeat(40);
  it('applies the documented defaults', () => {
    const config = loadConfig({ HASH: hash }, '/srv/llmass');
    expect(config).toMatchObject({
      port: 8083, host: '127.0.0.1', fqdn: 'http://localhost:8083', sessionsDir: '/srv/llmass/sessions', commandTimeout: 300,
      maxOutputBytes: 1048576, workdir: '/srv/llmass', maxWait: 40, outputViewBytes: 32768, maxConcurrency: 4, maxQueue: 1000,
      dedupWindow: 10, maxUploadBytes: 1073741824, shutdownGrace: 10, trustProxy: [], metricsOpen: false, authMaxFailures: 10, authWindow: 60, auditLog: '/srv/llmass/sessions/audit.jsonl',
      minFreeBytes: 64 * 1024 * 1024,
    });
    expect(['/bin/bash', '/bin/sh']).toContain(config.commandShell);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('lets the environment win over .env', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, '.env'), `HASH=${hash}\nPORT=1111\nMAX_WAIT=5\n`);
    const config = loadConfig(readEnv({ PORT: '2222' }, dir), dir);
    expect(config.port).toBe(2222);
    expect(config.maxWait).toBe(5);
    expect(config.hash).toBe(hash);
  });

  it.each([
    [{ HASH: 'short' }, /HASH must be at least 32/],
    [{ HASH: PLACEHOLDER_HASH }, /placeholder/],
    [{}, /HASH is not set/],
    [{ HASH: hash, PORT: 'eighty' }, /PORT must be a whole number/],
    [{ HASH: hash, MAX_CONCURRENCY: '0' }, /MAX_CONCURRENCY must be between/],
    [{ HASH: hash, FQDN: 'ftp://x' }, /FQDN/],
    [{ HASH: hash, TRUST_PROXY: 'yes' }, /TRUST_PROXY/],
  ])('refuses %j', (env, message) => {
    expect(() => loadConfig(env, '/tmp')).toThrow(ConfigError);
    expect(() => loadConfig(env, '/tmp')).toThrow(message);
  });

  it('ships the placeholder in .env.example', () => {
    expect(fs.readFileSync(path.join(ROOT, '.env.example'), 'utf8')).toContain(`HASH=${PLACEHOLDER_HASH}`);
  });
});

describe('start-up', () => {
  it('stops with a message naming HASH and the rule when the hash is too short', async () => {
    const server = await startServer({ hash: 'tooshort', expectExit: true });
    const exit = await server.exited;
    expect(exit.code).not.toBe(0);
    expect(server.output()).toMatch(/HASH must be at least 32 characters/);
  });

  it('refuses the .env.example placeholder', async () => {
    const server = await startServer({ hash: PLACEHOLDER_HASH, expectExit: true });
    expect((await server.exited).code).not.toBe(0);
    expect(server.output()).toMatch(/placeholder/);
  });

  it('on first run writes .env (0600) with a fresh 48+ character HASH and prints the /context URL once', async () => {
    const dir = tempDir();
    const first = await startServer({ dir, hash: null });
    const envFile = path.join(dir, '.env');
    expect(fs.statSync(envFile).mode & 0o777).toBe(0o600);
    const hash = /^HASH=(.+)$/m.exec(fs.readFileSync(envFile, 'utf8'))?.[1] ?? '';
    expect(hash.length).toBeGreaterThanOrEqual(48);
    expect(first.output()).toContain(`/context?hash=${hash}`);
    expect(first.output().split(hash).length - 1).toBe(1);
    expect((await first.get('/sessions')).status).toBe(200);
    await first.stop();

    const second = await startServer({ dir, hash: null });
    expect(second.hash).toBe(hash);
    expect((await second.get('/sessions')).status).toBe(200);
    await run(second);
    expect(second.output()).not.toContain(hash);
  });

  it('refuses to share a SESSIONS_DIR with a running server', async () => {
    const dir = tempDir();
    const first = await startServer({ dir });
    const second = await startServer({ dir, hash: randomHash(), expectExit: true });
    expect((await second.exited).code).not.toBe(0);
    expect(second.output()).toMatch(/another LLMASS server/);
    expect((await first.get('/healthz', { auth: false })).status).toBe(200);
  });
});

async function run(server: Awaited<ReturnType<typeof startServer>>): Promise<void> {
  const answer = await server.get(server.url('/shell', { cmd: 'echo hi', wait: 10 }));
  expect(answer.json.output).toBe('hi\n');
}
