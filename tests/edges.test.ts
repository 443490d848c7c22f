// The edges a close reading found no test reaching, each now pinned: paging at the last byte,
// the 416 at the end of the stored output, cuts on character boundaries, ticket numbers never
// taken back over a later one, the idle limit at its value, the store's own check of session
// names, exclusive temp files, a ready shell only for the ticket it was claimed for, and the
// process-group kill where no cgroup tracks a command. Fast: in process, through app.inject().
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { outputView } from '../src/answers/outputView.js';
import { OutputCollector } from '../src/storage/outputCollector.js';
import { SessionLayout } from '../src/storage/sessionLayout.js';
import { TempFilesAhead } from '../src/storage/tempFiles.js';
import { TicketStore } from '../src/storage/ticketStore.js';
import { callTool, closeInProcessApps, inProcessApp, type InProcessApp } from './helpers/inProcess.js';
import { makeAgentUser, type AgentUser } from './helpers/agentUser.js';
import { launch, processRunning, randomHash, SERVER_JS, stopAll, tempDir, until, type TestServer } from './helpers/server.js';

afterEach(closeInProcessApps);

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

interface View {
  status: string;
  session: string;
  ticket: number;
  output: string;
  next_page?: string;
  timeout_kind?: string;
  duration_ms: number | null;
}

async function finished(server: InProcessApp, cmd: string, params: Record<string, string | number> = {}): Promise<View> {
  const answer = await server.get('/shell', { cmd, wait: 20, ...params });
  expect(answer.status).toBe(200);
  return answer.json<View>();
}

describe('paging the stored output', () => {
  it('gives next_page while one byte is left after the window, and none after the last', async () => {
    const server = await inProcessApp();
    const ten = await finished(server, "printf '0123456789'");
    const window = (offset: number, limit: number) => server.get('/callback', { session: ten.session, ticket: ten.ticket, offset, limit });
    const oneLeft = (await window(0, 9)).json<View>();
    expect(oneLeft.output).toBe('012345678');
    expect(new URL(oneLeft.next_page ?? 'http://x/').searchParams.get('offset')).toBe('9');
    const last = (await window(9, 1)).json<View>();
    expect(last.output).toBe('9');
    expect(last.next_page).toBeUndefined();
  });

  it('answers 416 for an offset at the end of the stored output, and shows the byte before it', async () => {
    const server = await inProcessApp();
    const ten = await finished(server, "printf '0123456789'");
    const atEnd = await server.get('/callback', { session: ten.session, ticket: ten.ticket, offset: 10 });
    expect(atEnd.status).toBe(416);
    expect(atEnd.headers['content-range']).toBe('bytes */10');
    const lastByte = await server.get('/callback', { session: ten.session, ticket: ten.ticket, offset: 9 });
    expect(lastByte.json<View>().output).toBe('9');
  });

  it('cuts the head and the tail of a long output on character boundaries', () => {
    // '€' is three bytes: a head share of 50 and a tail share of 50 both fall inside one.
    const bytes = Buffer.from('€'.repeat(1000), 'utf8');
    const collector = new OutputCollector({ kind: 'view', viewBytes: 100 });
    collector.push(bytes);
    const view = outputView(collector.result(), { outputBytes: bytes.length, truncated: false }, 100, () => 'next');
    expect(view.output).not.toContain('\uFFFD');
    const [head, tail] = view.output.split(/\n\n\[llmass: [^\]]*\]\n\n/);
    expect(head).toBe('€'.repeat(16));
    // The tail's cut backs off too, so it starts a character earlier: 17 characters, 51 bytes.
    expect(tail).toBe('€'.repeat(17));
    expect(view.output_omitted_bytes).toBe(bytes.length - 48 - 51);
  });
});

describe('ticket numbers', () => {
  it('takes back only the last number handed out, never one below a later one', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const store = new TicketStore(new SessionLayout(dir), 1 << 20);
    const index = await store.open('s', true);
    if (index === undefined) throw new Error('the session did not open');
    expect([store.allocate(index), store.allocate(index)]).toEqual([1, 2]);
    store.release(index, 1);
    expect(store.allocate(index)).toBe(3);
    store.release(index, 3);
    expect(store.allocate(index)).toBe(3);
  });

  it('refuses a session name that is not one, in the store itself, and makes nothing', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const store = new TicketStore(new SessionLayout(path.join(dir, 'sessions')), 1 << 20);
    for (const name of ['../escape', 'a/b', '.hidden', '']) {
      await expect(store.open(name, true)).rejects.toThrow(/invalid session name/);
    }
    expect(fs.existsSync(path.join(dir, 'escape'))).toBe(false);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('temp files made ahead', () => {
  it('are created exclusively: a file planted under the name is never written through', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const victim = path.join(dir, 'victim');
    fs.writeFileSync(victim, 'precious');
    const planted = path.join(dir, '.next.tmp');
    fs.linkSync(victim, planted);
    const ahead = new TempFilesAhead();
    ahead.prepare('s/next', planted);
    await ahead.whenMade('s/next');
    expect(ahead.take('s/next')).toBeUndefined();
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious');
    // The same name, free, is made and handed over.
    fs.rmSync(planted);
    ahead.prepare('s/next', planted);
    await ahead.whenMade('s/next');
    const ready = ahead.take('s/next');
    expect(ready?.file).toBe(planted);
    if (ready !== undefined) fs.closeSync(ready.fd);
  });
});

describe('time limits', () => {
  it('ends a silent command at its idle limit, not later', async () => {
    const server = await inProcessApp();
    const view = await finished(server, 'sleep 20', { idle_timeout: 2 });
    expect(view.status).toBe('timeout');
    expect(view.timeout_kind).toBe('idle');
    expect(view.duration_ms).toBeGreaterThanOrEqual(2000);
    expect(view.duration_ms).toBeLessThan(3500);
  });
});

describe('a shell started ahead', () => {
  it('runs only the ticket it was claimed for: a later ticket gets its own shell and tracking id', async () => {
    const server = await inProcessApp({ MAX_CONCURRENCY: '1' });
    const session = (await finished(server, 'true')).session;
    // The session is idle now, with a shell ready. A command elsewhere holds the only slot.
    await until(() => fs.readdirSync(path.join(server.sessionsDir, session)).some((name) => name.startsWith('.next.ticket')));
    const blocker = (await server.get('/shell', { cmd: 'sleep 30' })).json<View>();
    await until(async () => (await server.get('/callback', { session: blocker.session, ticket: blocker.ticket })).json<View>().status === 'running');
    // The first ticket claims the ready shell, waits for the slot, and is canceled there.
    const claimed = (await server.get('/shell', { session, cmd: 'echo first' })).json<View>();
    expect((await server.get('/cancel', { session, ticket: claimed.ticket })).status).toBe(200);
    const later = (await server.get('/shell', { session, cmd: 'echo "marker=$LLMASS_TICKET"' })).json<View>();
    await server.get('/cancel', { session: blocker.session, ticket: blocker.ticket });
    const view = (await server.get('/callback', { session, ticket: later.ticket, wait: 20 })).json<View>();
    expect(view.status).toBe('done');
    const record = JSON.parse(fs.readFileSync(path.join(server.sessionsDir, session, `${later.ticket}.ticket`), 'utf8')) as { process_marker: string };
    expect(view.output).toBe(`marker=${record.process_marker}\n`);
  });
});

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI) throw new Error('CI runs as root: the test of tracking without cgroups must run there');
if (!isRoot) process.stdout.write('edges.test.ts: the test of tracking without cgroups is skipped: it starts the server as another user, which needs root (CI runs it as root)\n');

describe.skipIf(!isRoot)('without cgroups (a server that may not make them)', () => {
  let user: AgentUser;
  let server: TestServer;

  afterAll(async () => {
    await stopAll();
    await user?.remove();
  });

  it('ends a command by its process group, which reaches a process that dropped its marker', async () => {
    user = makeAgentUser('llmg');
    const dir = tempDir();
    dirs.push(dir);
    fs.chownSync(dir, user.uid, user.uid);
    const env = { PATH: '/usr/bin:/bin', HOME: user.home, LANG: 'C.UTF-8', PORT: '0', HASH: randomHash(), SESSIONS_DIR: path.join(dir, 'sessions') };
    // Not root, and not delegated a cgroup: the server falls back to markers and process groups.
    server = await launch({ program: '/usr/bin/setpriv', args: [`--reuid=${user.uid}`, `--regid=${user.uid}`, '--init-groups', process.execPath, SERVER_JS], cwd: dir, env, hash: env.HASH });
    expect(server.output()).toMatch(/processes are tracked by an environment marker, not a cgroup/);
    const submitted = (await server.get(server.url('/shell', { cmd: 'env -i /bin/sleep 300 & echo "pid=$!"; wait' }), { auth: false })).json;
    let pid = 0;
    await until(async () => {
      const view = (await server.get(server.url('/callback', { session: submitted.session, ticket: submitted.ticket }), { auth: false })).json;
      pid = Number(/pid=(\d+)/.exec(view.output)?.[1] ?? 0);
      return pid > 0;
    });
    expect(processRunning(pid)).toBe(true);
    // Its environment is empty: no marker finds it, only its process group does.
    expect(fs.readFileSync(`/proc/${pid}/environ`, 'utf8')).toBe('');
    const canceled = (await server.get(server.url('/cancel', { session: submitted.session, ticket: submitted.ticket }), { auth: false })).json;
    expect(canceled.status).toBe('canceled');
    expect(await until(() => !processRunning(pid), 5000)).toBe(true);
  });
});

describe('the words of each front', () => {
  it('tells a JSON reader, a text reader and an MCP client how to read what is left out, each in its own terms', async () => {
    const server = await inProcessApp({ OUTPUT_VIEW_BYTES: '256' });
    const long = await finished(server, 'seq 1 2000');
    expect(long.output).toMatch(/GET next_page to read them/);
    const text = (await server.get('/callback', { session: long.session, ticket: long.ticket, format: 'text' })).body;
    expect(text).toMatch(/GET the Next page link to read them/);
    expect(text).toMatch(/^Next page: http/m);
    const mcpText = (await callTool(server, 'callback', { session: long.session, ticket: long.ticket })).text;
    expect(mcpText).toMatch(/call callback with session \S+, ticket 1, offset and limit to read them/);
    expect(mcpText).not.toMatch(/GET /);
  });
});
