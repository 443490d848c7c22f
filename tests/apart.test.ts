// Agents apart through the API: a session belongs to the key that made it. Another key meets
// it as if it did not exist, on every route that names a session and in every MCP tool (404,
// the same words as for a session that is not there; /shell into it: the name is taken);
// /sessions lists the asker's own; HASH sees and acts on all. In process: no users needed.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENDPOINTS } from '../src/protocol/endpoints.js';
import { closeInProcessApps, inProcessApp, type InProcessApp } from './helpers/inProcess.js';

const alice = 'alice-secret-0123456789abcdefghijklmnopqrstuvwxyz';
const bob = 'bob-secret-0123456789abcdefghijklmnopqrstuvwxyz-bob';
let server: InProcessApp;

/** A GET with `key` as the credential (not HASH). */
function as(key: string, pathname: string, params: Record<string, string | number> = {}) {
  return server.get(pathname, { hash: key, ...params });
}

async function tool(key: string, name: string, args: Record<string, unknown>): Promise<{ text: string; isError: boolean; structured: Record<string, unknown> }> {
  const answer = await server.app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${key}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } }),
  });
  const result = answer.json<{ result: { content: Array<{ text: string }>; structuredContent: Record<string, unknown>; isError?: boolean } }>().result;
  return { text: result.content[0]?.text ?? '', isError: result.isError === true, structured: result.structuredContent };
}

/** A request on `session` for each route that names one: every such route must be here. */
const ON_SESSION: Record<string, Record<string, string | number>> = {
  '/shell': { cmd: 'echo taken' },
  '/callback': { ticket: 1 },
  '/history': {},
  '/cancel': { ticket: 1 },
  '/view': {},
  '/stdin': { ticket: 1, n: 1, text: 'x' },
  '/screen': { ticket: 1 },
  '/file': { path: 'notes.txt' },
  '/upload': { path: 'planted.txt', offset: 0, data64: 'eA', done: 1 },
  // A named key may not decide any session's commands: 403 whoever's the session is.
  '/approve': { ticket: 1 },
  '/deny': { ticket: 1 },
};
const DECISIONS = new Set(['/approve', '/deny']);

let keysDir = '';
beforeAll(async () => {
  const dir = fs.mkdtempSync('/tmp/llmass-apart-keys-');
  keysDir = dir;
  const keysFile = path.join(dir, 'keys');
  fs.writeFileSync(keysFile, `alice ${alice}\nbob ${bob}\n`, { mode: 0o600 });
  server = await inProcessApp({ KEYS_FILE: keysFile });
  const made = await as(alice, '/shell', { session: 'alices', wait: 10, cmd: 'echo private > notes.txt; echo made' });
  expect(made.json<{ output: string }>().output).toBe('made\n');
  expect((await as(bob, '/shell', { session: 'bobs', wait: 10, cmd: 'echo bob' })).status).toBe(200);
});
afterAll(async () => {
  await closeInProcessApps();
  fs.rmSync(keysDir, { recursive: true, force: true });
});

describe('a session belongs to the key that made it', () => {
  it('is a 404 for another key on every route that names a session, in the words of a session that does not exist', async () => {
    const routes = Object.entries(ENDPOINTS).filter(([, spec]) => spec.params.includes('session')).map(([route]) => route);
    expect(routes.sort()).toEqual(Object.keys(ON_SESSION).sort());
    for (const route of routes) {
      const params = ON_SESSION[route] ?? {};
      const theirs = await as(bob, route, { session: 'alices', ...params });
      if (DECISIONS.has(route)) {
        expect(theirs.status, route).toBe(403);
        expect((await as(bob, route, { session: 'bobs', ...params })).status, route).toBe(403);
        continue;
      }
      expect(theirs.status, `${route}: ${theirs.body}`).toBe(404);
      const said = theirs.json<{ error: string; hint: string }>();
      if (route === '/shell') {
        expect(said.error).toBe('the session name alices is taken');
        expect(said.hint).toMatch(/leave session= out/);
      } else {
        const nowhere = await as(bob, route, { session: 'nosuch', ...params });
        expect(nowhere.status, route).toBe(404);
        expect(said.error, route).toBe(nowhere.json<{ error: string }>().error.replace('nosuch', 'alices'));
      }
    }
    // Nothing of bob's reached alice's session: no ticket 2, no planted file, the first command untouched.
    const history = (await as(alice, '/history', { session: 'alices' })).json<Array<{ ticket: number; status: string }>>();
    expect(history.map((entry) => `${entry.ticket}:${entry.status}`)).toEqual(['1:done']);
    expect(fs.existsSync(path.join(server.config.workdir, 'planted.txt'))).toBe(false);
  });

  it('is not there for another key in any MCP tool either', async () => {
    const calls: Array<[string, Record<string, unknown>]> = [
      ['shell', { session: 'alices', cmd: 'echo taken' }],
      ['callback', { session: 'alices', ticket: 1 }],
      ['history', { session: 'alices' }],
      ['cancel', { session: 'alices', ticket: 1 }],
      ['stdin', { session: 'alices', ticket: 1, n: 1, text: 'x' }],
      ['screen', { session: 'alices', ticket: 1 }],
      ['read_file', { session: 'alices', path: 'notes.txt' }],
      ['write_file', { session: 'alices', path: 'planted.txt', content: 'x' }],
    ];
    for (const [name, args] of calls) {
      const result = await tool(bob, name, args);
      expect(result.isError, name).toBe(true);
      expect(result.text, name).toMatch(name === 'shell' ? /the session name alices is taken/ : /session alices does not exist/);
    }
    const listed = await tool(bob, 'sessions', {});
    expect(listed.text).toContain('bobs');
    expect(listed.text).not.toContain('alices');
  });

  it('keeps each MCP call to its own key while the servers serving them are reused, one call held open meanwhile', async () => {
    // /mcp reuses idle MCP servers across requests (mcp.ts); a call must still act as its own
    // request's key. Alice's held call (wait on a sleeping ticket) keeps one server busy while
    // the others take turns on the rest.
    const sleeping = await tool(alice, 'shell', { session: 'alices', cmd: 'sleep 0.5; echo woke' });
    const held = tool(alice, 'callback', { session: 'alices', ticket: sleeping.structured.ticket, wait: 10 });
    const turns = Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? alice : bob));
    const listed = await Promise.all(turns.map((key) => tool(key, 'sessions', {}).then((result) => ({ key, text: result.text }))));
    for (const { key, text } of listed) {
      expect(text).toContain(key === alice ? 'alices' : 'bobs');
      expect(text).not.toContain(key === alice ? 'bobs' : 'alices');
    }
    const woke = await held;
    expect(woke.structured).toMatchObject({ status: 'done' });
    expect(woke.text).toContain('woke');
    // And again, one after the other, on the servers now idle.
    for (const key of [bob, alice, bob]) expect((await tool(key, 'sessions', {})).text).not.toContain(key === alice ? 'bobs' : 'alices');
  });

  it('lists only the asker\'s own sessions; HASH sees every session and whose it is', async () => {
    const names = (key: string) => as(key, '/sessions').then((answer) => answer.json<{ sessions: Array<{ session: string; key: string }> }>().sessions.map((s) => `${s.session}:${s.key}`).sort());
    expect(await names(alice)).toEqual(['alices:alice']);
    expect(await names(bob)).toEqual(['bobs:bob']);
    expect(await names(server.hash)).toEqual(['alices:alice', 'bobs:bob']);
  });

  it('opens to its own key and its links, and to HASH, which acts on it', async () => {
    const own = await as(alice, '/shell', { session: 'alices', wait: 10, cmd: 'cat notes.txt' });
    expect(own.json<{ output: string }>().output).toBe('private\n');
    const next = `${own.json<{ shell: string }>().shell.replace(/^http:\/\/[^/]+/, '')}echo%20again`;
    expect(next).toMatch(/token=x\./);
    expect((await server.app.inject({ url: next })).status).toBe(200);
    const operator = await server.get('/shell', { session: 'alices', wait: 10, cmd: 'cat notes.txt' });
    expect(operator.json<{ output: string }>().output).toBe('private\n');
    const owner = JSON.parse(fs.readFileSync(path.join(server.sessionsDir, 'alices', '.owner'), 'utf8'));
    expect(owner).toEqual({ key: 'alice', user: null });
    expect(fs.statSync(path.join(server.sessionsDir, 'alices', '.owner')).mode & 0o777).toBe(0o600);
  });

  it('gives a new session name to the first of two keys that race for it, and a 404 to the other', async () => {
    const [a, b] = await Promise.all([as(alice, '/shell', { session: 'contested', cmd: 'true' }), as(bob, '/shell', { session: 'contested', cmd: 'true' })]);
    expect([a.status, b.status].sort()).toEqual([200, 404]);
    const winner = a.status === 200 ? 'alice' : 'bob';
    expect(JSON.parse(fs.readFileSync(path.join(server.sessionsDir, 'contested', '.owner'), 'utf8')).key).toBe(winner);
  });

  it('belongs to the operator alone when its owner file is damaged, and says so in the log', async () => {
    fs.mkdirSync(path.join(server.sessionsDir, 'damaged'), { mode: 0o700 });
    fs.writeFileSync(path.join(server.sessionsDir, 'damaged', '.owner'), '{"key": 42}', { mode: 0o600 });
    expect((await as(alice, '/history', { session: 'damaged' })).status).toBe(404);
    expect((await server.get('/history', { session: 'damaged' })).status).toBe(200);
    expect(server.logLines.some((line) => line.includes('owner file is damaged') && line.includes('"session":"damaged"'))).toBe(true);
  });
});

describe('a finished ticket\'s leftovers', () => {
  it('are ended by /cancel, which says how many, leaves the status as it was, and audits it', async () => {
    const done = (await as(alice, '/shell', { session: 'leftovers', wait: 10, cmd: 'sleep 300 & echo $!' })).json<{ status: string; output: string; background: Array<{ pid: number }> }>();
    const pid = Number(done.output.trim());
    expect(done.status).toBe('done');
    expect(done.background.map((p) => p.pid)).toEqual([pid]);
    expect(fs.existsSync(`/proc/${pid}`)).toBe(true);
    const canceled = (await as(alice, '/cancel', { session: 'leftovers', ticket: 1 })).json<{ status: string; canceled: boolean; background_ended: number; background?: unknown; next: string }>();
    expect(canceled).toMatchObject({ status: 'done', canceled: false, background_ended: 1 });
    expect(canceled.background).toBeUndefined();
    expect(canceled.next).toMatch(/ended the 1 process\(es\) it left running/);
    // Gone for good: not even a zombie of it is left under the server.
    const status = fs.existsSync(`/proc/${pid}/status`) ? fs.readFileSync(`/proc/${pid}/status`, 'utf8') : 'State:\tgone';
    expect(status).toMatch(/State:\s+(Z|gone)/);
    const again = (await as(alice, '/cancel', { session: 'leftovers', ticket: 1 })).json<{ background_ended?: number; next: string }>();
    // The record keeps what was ended; this cancel ended nothing more.
    expect(again.background_ended).toBe(1);
    expect(again.next).toMatch(/nothing was changed/);
    const audit = fs.readFileSync(server.config.auditLog, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(audit.find((line) => line.event === 'background_ended')).toMatchObject({ session: 'leftovers', ticket: 1, count: 1, why: 'cancel' });
  });
});

describe('the operator\'s reserve on the sessions disk', () => {
  it('lets HASH run commands below MIN_FREE_BYTES, down to MIN_FREE_BYTES_OPERATOR, while agents get 507', async () => {
    const dir = fs.mkdtempSync('/tmp/llmass-reserve-keys-');
    fs.writeFileSync(path.join(dir, 'keys'), `alice ${alice}\n`, { mode: 0o600 });
    const free = fs.statfsSync('/tmp');
    const available = free.bavail * free.bsize;
    // The disk as an agent sees it: "full" below a floor above what is free; the operator's floor is below it.
    const reserve = await inProcessApp({ KEYS_FILE: path.join(dir, 'keys'), MIN_FREE_BYTES: String(available * 4), MIN_FREE_BYTES_OPERATOR: String(Math.floor(available / 4)) });
    const agent = await reserve.get('/shell', { hash: alice, cmd: 'echo agent' });
    expect(agent.status).toBe(507);
    expect(agent.json<{ error: string }>().error).toMatch(/below MIN_FREE_BYTES \(/);
    const operator = await reserve.get('/shell', { cmd: 'echo cleanup', wait: 10 });
    expect(operator.json<{ status: string; output: string }>()).toMatchObject({ status: 'done', output: 'cleanup\n' });
    await reserve.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses an operator\'s floor above MIN_FREE_BYTES at start', async () => {
    await expect(inProcessApp({ MIN_FREE_BYTES: '1000', MIN_FREE_BYTES_OPERATOR: '2000' })).rejects.toThrow(/MIN_FREE_BYTES_OPERATOR \(2000\) must not be above MIN_FREE_BYTES \(1000\)/);
  });
});

describe('per-ticket cgroup limits', () => {
  let limited: InProcessApp;
  beforeAll(async () => {
    limited = await inProcessApp({ COMMAND_MAX_PROCESSES: '16', COMMAND_MAX_MEMORY: String(128 << 20) });
  });
  afterAll(() => limited.close());
  /** What the start-up log says is in force. */
  const inForce = (): string[] => JSON.parse(limited.logLines.find((line) => line.includes('per-ticket limits through cgroups')) ?? '{"controllers":[]}').controllers;

  it('says at start which hold, and why the others do not', () => {
    const missing = limited.logLines.find((line) => line.includes('some per-ticket cgroup limits are not set'));
    expect(inForce().length + (missing === undefined ? 0 : JSON.parse(missing).missing.length)).toBe(2);
  });

  it('holds a ticket to pids.max: a fork loop stops at COMMAND_MAX_PROCESSES', async () => {
    if (!inForce().includes('pids')) {
      process.stdout.write('apart.test.ts: per-ticket pids.max is not in force on this host (see the start-up log): nothing to check\n');
      return;
    }
    // Commands run as root here, which RLIMIT_NPROC does not hold: only the ticket's pids.max does.
    const forks = 'import os,time\nn=0\nwhile True:\n  try:\n    pid=os.fork()\n  except OSError:\n    break\n  if pid==0:\n    time.sleep(30)\n    os._exit(0)\n  n+=1\nprint(n)\n';
    const done = (await limited.get('/shell', { session: 'pids', wait: 20, cmd: `/usr/bin/python3 -c "$(printf '%s' '${forks}')"` })).json<{ status: string; output: string }>();
    expect(done.status).toBe('done');
    // 16 in all: the shell (if it did not exec python), python, and the rest forked.
    const forked = Number(done.output.trim());
    expect(forked).toBeGreaterThanOrEqual(13);
    expect(forked).toBeLessThanOrEqual(15);
    await limited.get('/cancel', { session: 'pids', ticket: 1 });
  });

  it('ends a ticket whose processes together pass its memory limit, reason oom', async () => {
    if (!inForce().includes('memory')) {
      process.stdout.write('apart.test.ts: the per-ticket memory limit is not in force on this host (see the start-up log): nothing to check\n');
      return;
    }
    // Four processes, each well within RLIMIT_AS, 240 MB together over a 128 MB limit.
    const hog = 'for i in 1 2 3 4; do /usr/bin/python3 -c "import time; x = bytearray(60 << 20); time.sleep(5)" & done; wait';
    const ended = (await limited.get('/shell', { session: 'oom', wait: 20, cmd: hog })).json<{ status: string; reason: string; next: string; output: string }>();
    expect(ended).toMatchObject({ status: 'done', reason: 'oom' });
    expect(ended.next).toMatch(/The kernel ended a process of it for memory \(reason oom\)/);
    expect(ended.output).toMatch(/\[llmass: the kernel ended a process of this command for memory/);
    // A ticket within the limit has no such reason.
    const fine = (await limited.get('/shell', { session: 'oom', wait: 20, cmd: '/usr/bin/python3 -c "x = bytearray(20 << 20)"' })).json<{ status: string; reason?: string }>();
    expect(fine.status).toBe('done');
    expect(fine.reason).toBeUndefined();
  });
});
