// The jumphost's own job, through the GET protocol only: ssh onward to a host never seen, by a
// real OpenSSH server on a loopback port with its own host key. The first connection's host-key
// question and its password are answered with /stdin (the password with secret=1), and the
// ControlMaster it leaves serves the next tickets without a password: as the server's user, and
// under the unit as shipped with COMMAND_USER. Root only (sshd, users, passwords): CI runs it.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeAgentUser, type AgentUser } from './helpers/agentUser.js';
import { closeInProcessApps, inProcessApp } from './helpers/inProcess.js';
import { stopAll, tempDir, until, type TestServer } from './helpers/server.js';
import { startAsUnit } from './helpers/unit.js';

const isRoot = process.getuid?.() === 0;
const haveSshd = fs.existsSync('/usr/sbin/sshd') && fs.existsSync('/usr/bin/ssh');
if (process.env.CI && !(isRoot && haveSshd)) throw new Error('CI runs as root with openssh-server: the ssh test must run there');
if (!isRoot || !haveSshd) process.stdout.write('sshOnward.test.ts: skipped: it needs root and openssh-server (apt-get install openssh-server; CI runs it)\n');

/** A free loopback port. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** What a front (the in-process seam, or a real server) answers to a GET: status and JSON. */
type Get = (pathname: string, params: Record<string, string | number>) => Promise<{ status: number; json: Record<string, unknown> }>;

/** Ticket 1 on a terminal answers the host key and the password; tickets 2 and 3 ride the master without one. */
async function sshOnward(get: Get, session: string, target: { user: string; password: string; port: number }, dir: string): Promise<void> {
  const options = `-o UserKnownHostsFile=${dir}/known_hosts -o ControlPath=${dir}/cm-%C -o PubkeyAuthentication=no -p ${target.port}`;
  const first = await get('/shell', { session, tty: 1, cmd: `ssh ${options} -o ControlMaster=auto -o ControlPersist=120 ${target.user}@127.0.0.1 'echo "first as $(whoami)"'` });
  const ticket = Number(first.json.ticket);
  const output = async (): Promise<string> => String((await get('/callback', { session, ticket })).json.output);
  expect(await until(async () => /continue connecting \(yes\/no/.test(await output()), 15_000, 100), await output()).toBe(true);
  // The fingerprint is shown before the question, so that it can be checked.
  expect(await output()).toMatch(/ED25519 key fingerprint is SHA256:/);
  expect((await get('/stdin', { session, ticket, n: 1, text: 'yes\r' })).status).toBe(200);
  expect(await until(async () => /password: ?$/.test((await output()).trimEnd() + ' '), 15_000, 100), await output()).toBe(true);
  expect((await get('/stdin', { session, ticket, n: 2, text: `${target.password}\r`, secret: 1 })).status).toBe(200);
  const done = (await get('/callback', { session, ticket, wait: 20 })).json;
  expect(done).toMatchObject({ status: 'done', exit_code: 0 });
  expect(String(done.output)).toContain(`first as ${target.user}`);
  expect(String(done.output)).not.toContain(target.password);
  // No terminal and no password now: the master connection it left carries the next commands.
  const again = (await get('/shell', { session, wait: 20, cmd: `ssh ${options} -o BatchMode=yes ${target.user}@127.0.0.1 'echo "again as $(whoami)"'` })).json;
  expect(again).toMatchObject({ status: 'done', exit_code: 0 });
  expect(String(again.output)).toContain(`again as ${target.user}`);
  const closed = (await get('/shell', { session, wait: 20, cmd: `ssh ${options} -O exit ${target.user}@127.0.0.1` })).json;
  expect(closed).toMatchObject({ status: 'done', exit_code: 0 });
}

describe.skipIf(!isRoot || !haveSshd)('ssh onward, through /shell?tty=1 and /stdin', () => {
  let sshd: ChildProcess;
  let target: AgentUser;
  let agent: AgentUser;
  let port = 0;
  const password = `pw-${crypto.randomBytes(9).toString('base64url')}`;
  const dir = tempDir('llmass-sshd-');

  beforeAll(async () => {
    target = makeAgentUser('llmh');
    agent = makeAgentUser('llma');
    execFileSync('chpasswd', { input: `${target.name}:${password}\n` });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')]);
    port = await freePort();
    const config = path.join(dir, 'sshd_config');
    fs.writeFileSync(
      config,
      [`Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${dir}/host_key`, `PidFile ${dir}/sshd.pid`, 'PasswordAuthentication yes', 'KbdInteractiveAuthentication no', 'UsePAM no', 'PermitRootLogin no', 'AuthorizedKeysFile none', `AllowUsers ${target.name}`, ''].join('\n'),
    );
    fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let said = '';
    sshd.stderr?.on('data', (chunk: Buffer) => (said += chunk.toString()));
    expect(await until(() => /Server listening/.test(said), 10_000), said).toBe(true);
  });

  afterAll(async () => {
    await closeInProcessApps();
    await stopAll();
    if (sshd?.pid !== undefined) process.kill(sshd.pid, 'SIGTERM');
    await target?.remove();
    await agent?.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('as the server\'s own user', async () => {
    const server = await inProcessApp();
    const mine = path.join(server.dir, 'ssh');
    fs.mkdirSync(mine, { mode: 0o700 });
    const get: Get = async (pathname, params) => {
      const answer = await server.get(pathname, params);
      return { status: answer.status, json: answer.json<Record<string, unknown>>() };
    };
    await sshOnward(get, 'jump', { user: target.name, password, port }, mine);
  });

  it('as COMMAND_USER, under the unit as shipped', async () => {
    const server: TestServer = await startAsUnit({ env: { COMMAND_USER: agent.name } });
    const get: Get = async (pathname, params) => {
      const answer = await server.get(server.url(pathname, params));
      return { status: answer.status, json: answer.json as Record<string, unknown> };
    };
    // The command user's own directory for its known hosts and master socket.
    await sshOnward(get, 'jump', { user: target.name, password, port }, agent.home);
  });
});
