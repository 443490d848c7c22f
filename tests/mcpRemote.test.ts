// mcp-remote, the stdio bridge many MCP clients use for a remote server: with the right key it
// talks to /mcp; with a wrong one it says the key is wrong, not an OAuth riddle (it tries OAuth
// on a 401, and this server's metadata and /register answer that the key is at fault).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, startServer, stopAll, tempDir } from './helpers/server.js';

afterAll(stopAll);

const BRIDGE = path.join(ROOT, 'node_modules', '.bin', 'mcp-remote');
const INITIALIZE = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'test', version: '1' } } });

/** Runs the bridge with `key`, sends initialize, and resolves with what it printed once `done` matches (or it exits). */
function bridge(url: string, key: string, done: RegExp): Promise<{ out: string; err: string }> {
  const home = tempDir('llmass-mcp-remote-');
  const child = spawn(BRIDGE, [url, '--header', `Authorization: Bearer ${key}`, '--allow-http'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, BROWSER: '/bin/true' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  return new Promise((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
      resolve({ out, err });
    };
    const timer = setTimeout(finish, 30_000);
    const check = (): void => {
      if (done.test(out) || done.test(err)) finish();
    };
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      check();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      check();
    });
    child.once('exit', finish);
    child.stdin.write(`${INITIALIZE}\n`);
  });
}

describe('through mcp-remote', () => {
  it('connects with the right key, and says the key is wrong with a wrong one', async () => {
    const server = await startServer();
    // The address the server names itself by (FQDN): the metadata names its resource so.
    const url = `http://localhost:${server.port}/mcp`;
    const good = await bridge(url, server.hash, /"serverInfo"/);
    expect(good.out).toMatch(/"serverInfo":\{"name":"llmass"/);
    const bad = await bridge(url, 'w'.repeat(40), /wrong or missing/);
    expect(bad.err).toMatch(/the key in your Authorization header is wrong or missing/);
  }, 70_000);
});
