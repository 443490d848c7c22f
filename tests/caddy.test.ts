// The shipped Caddyfile in front of the real daemon, both as the Deploy runs them: the daemon
// under its unit (helpers/unit.ts) on its unix socket, and Debian's real Caddy as the caddy
// user with the shipped drop-in's umask (deploy/caddy-llmass.conf), on loopback. Requests work
// through it, the client address arrives, bursts are taken, and no log Caddy writes holds the
// hash or can be read by others, even while the daemon is down. Needs root, as the unit does.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, stopAll, tempDir, until, type TestServer } from './helpers/server.js';
import { startAsUnit } from './helpers/unit.js';

const caddyFound = spawnSync('caddy', ['version']).status === 0;
const isRoot = process.getuid?.() === 0;
const mustRun = process.env.CI !== undefined && process.env.CI !== '';
if (!caddyFound || !isRoot) {
  const why = !caddyFound ? 'caddy is not installed (apt-get install caddy)' : 'the daemon runs under its unit and Caddy as its user, which needs root';
  process.stdout.write(mustRun ? `caddy.test.ts: ${why}, and under CI this test must run: failing.\n` : `caddy.test.ts: SKIPPED: ${why}; under CI it would fail instead.\n`);
}
const DROP_IN = path.join(ROOT, 'deploy', 'caddy-llmass.conf');

let daemon: TestServer;
let caddy: ChildProcess | undefined;
let caddyPort = 0;
let accessLog = '';
let caddyOutput = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
}

/** A GET through Caddy from a chosen loopback source address, so the client address is known. */
function getVia(target: string, from: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: caddyPort, path: target, localAddress: from, headers }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  if (!caddyFound || !isRoot) return;
  daemon = await startAsUnit({ env: { AUTH_MAX_FAILURES: '3' }, listenOn: 'socket' });
  const socket = daemon.at('/run/llmass/llmass.sock');
  caddyPort = await freePort();
  // Caddy's home and log directory, its own (as /var/lib/caddy and /var/log/caddy are).
  const dir = tempDir('llmass-caddy-');
  execFileSync('chown', ['caddy:caddy', dir]);
  fs.chmodSync(dir, 0o750);
  accessLog = path.join(dir, 'llmass-access.log');
  // As Deploy does it: the site block copied in, and Caddy's own configuration importing it.
  const site = path.join(dir, 'llmass.caddy');
  fs.copyFileSync(path.join(ROOT, 'Caddyfile'), site);
  const config = path.join(dir, 'Caddyfile');
  fs.writeFileSync(config, `{\n\tadmin off\n}\nimport ${site}\n`);
  for (const file of [site, config]) fs.chmodSync(file, 0o644);
  const umask = /^UMask=(\d+)$/m.exec(fs.readFileSync(DROP_IN, 'utf8'))?.[1];
  if (umask === undefined) throw new Error('deploy/caddy-llmass.conf sets no UMask');
  caddy = spawn('/bin/sh', ['-c', `umask ${umask} && exec "$@"`, 'caddy', '/usr/bin/setpriv', '--reuid=caddy', '--regid=caddy', '--init-groups', '--', 'caddy', 'run', '--config', config, '--adapter', 'caddyfile'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      XDG_DATA_HOME: dir,
      XDG_CONFIG_HOME: dir,
      LLMASS_ADDRESS: `http://127.0.0.1:${caddyPort}`,
      LLMASS_UPSTREAM: `unix/${socket}`,
      LLMASS_ACCESS_LOG: accessLog,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  caddy.stderr?.on('data', (chunk: Buffer) => (caddyOutput += chunk.toString()));
  const ready = await until(async () => {
    try {
      return (await getVia('/healthz', '127.0.0.1')).status === 200;
    } catch {
      return false;
    }
  }, 20_000, 100);
  if (!ready) throw new Error(`caddy did not come up:\n${caddyOutput}`);
});

afterAll(async () => {
  if (caddy !== undefined && caddy.exitCode === null) {
    const exited = new Promise((resolve) => caddy?.once('exit', resolve));
    caddy.kill('SIGTERM');
    await exited;
  }
  await stopAll();
});

describe.runIf((caddyFound && isRoot) || mustRun)('behind the shipped Caddyfile', () => {
  it('is installed and run as root (under CI this test may not be skipped)', () => {
    expect(caddyFound).toBe(true);
    expect(isRoot).toBe(true);
  });

  it('takes a burst of 3 000 concurrent requests without a 503', async () => {
    const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
    const one = (): Promise<number> =>
      new Promise((resolve) => {
        const req = http.get({ host: '127.0.0.1', port: caddyPort, path: '/healthz', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', () => resolve(-1));
      });
    const statuses = await Promise.all(Array.from({ length: 3000 }, one));
    agent.destroy();
    const counts: Record<string, number> = {};
    for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
    expect(counts).toEqual({ 200: 3000 });
  });

  it('serves requests through Caddy and sees the real client address', async () => {
    const answer = await getVia(`/shell?hash=${daemon.hash}&session=proxied&wait=10&cmd=echo%20through%20caddy`, '127.0.0.3');
    expect(answer.status).toBe(200);
    const json = JSON.parse(answer.body);
    expect(json).toMatchObject({ type: 'result', output: 'through caddy\n' });
    const audit = fs.readFileSync(path.join(daemon.sessionsDir, 'audit.jsonl'), 'utf8');
    expect(audit).toContain('"client":"127.0.0.3"');
  });

  it('locks out the client behind the proxy, not the proxy itself', async () => {
    for (let i = 0; i < 3; i += 1) expect((await getVia(`/sessions?hash=nope${i}`, '127.0.0.4')).status).toBe(401);
    expect((await getVia(`/sessions?hash=${daemon.hash}`, '127.0.0.4')).status).toBe(429);
    expect((await getVia(`/sessions?hash=${daemon.hash}`, '127.0.0.5')).status).toBe(200);
  });

  it('writes an access log that holds the requests but not the hash, nor text typed into a terminal', async () => {
    await getVia(`/callback?session=proxied&ticket=1&hash=${daemon.hash}`, '127.0.0.6');
    await getVia(`/stdin?session=proxied&ticket=1&n=1&text=typed-password-9f2&secret=1&hash=${daemon.hash}`, '127.0.0.6');
    await getVia(`/stdin?session=proxied&ticket=1&n=1&text64=dHlwZWQtYmFzZTY0&hash=${daemon.hash}`, '127.0.0.6');
    await getVia(`/upload?session=proxied&path=x&offset=0&data64=c2VjcmV0LWZpbGU&hash=${daemon.hash}`, '127.0.0.6');
    await getVia('/sessions', '127.0.0.6', { Authorization: `Bearer ${daemon.hash}` });
    // Caddy writes a request's log line after the response; wait for the file to show it.
    expect(await until(() => fs.existsSync(accessLog) && fs.readFileSync(accessLog, 'utf8').includes('/callback'), 10_000)).toBe(true);
    expect(await until(() => fs.readFileSync(accessLog, 'utf8').includes('"uri":"/sessions"'), 10_000)).toBe(true);
    const log = fs.readFileSync(accessLog, 'utf8');
    // It holds every command: readable by Caddy and its group, never by others.
    expect(fs.statSync(accessLog).mode & 0o007).toBe(0);
    expect(log).toContain('hash=REDACTED');
    expect(log).toContain('/shell?');
    expect(log).not.toContain(daemon.hash);
    expect(await until(() => fs.readFileSync(accessLog, 'utf8').includes('text64=REDACTED'), 10_000)).toBe(true);
    const typed = fs.readFileSync(accessLog, 'utf8');
    expect(typed).toContain('text=REDACTED');
    expect(typed).not.toContain('typed-password-9f2');
    expect(typed).not.toContain('dHlwZWQtYmFzZTY0');
    expect(await until(() => fs.readFileSync(accessLog, 'utf8').includes('data64=REDACTED'), 10_000)).toBe(true);
    expect(fs.readFileSync(accessLog, 'utf8')).not.toContain('c2VjcmV0LWZpbGU');
  });

  it('answers JSON while the daemon is down, and writes the hash to no log', async () => {
    await daemon.stop();
    const down = await getVia(`/shell?hash=${daemon.hash}&cmd=echo%20lost`, '127.0.0.7');
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body)).toMatchObject({ error: expect.stringMatching(/not answering/), hint: expect.stringMatching(/try again/) });
    expect(await until(() => fs.readFileSync(accessLog, 'utf8').includes('lost'), 10_000)).toBe(true);
    for (const text of [fs.readFileSync(accessLog, 'utf8'), caddyOutput]) expect(text).not.toContain(daemon.hash);
    expect(caddyOutput.length).toBeGreaterThan(0);
  });
});
