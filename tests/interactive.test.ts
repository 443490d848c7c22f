// Interactive commands through the GET protocol: a terminal (tty=1), numbered writes to it
// (/stdin, a re-fetched write never types twice, a secret stored nowhere), its screen
// rendered by a terminal emulator (/screen), and new output followed with since=. Real
// programs: a prompt, a python3 REPL, less, Ctrl-C on sleep, read -s. Through the seam.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { callTool, closeInProcessApps, inProcessApp, type InProcessApp } from './helpers/inProcess.js';
import { processRunning, startServer, stopAll, tempDir, until, waitFinal } from './helpers/server.js';

afterEach(closeInProcessApps);

interface View {
  type: string;
  ticket: number;
  status: string;
  exit_code: number | null;
  output: string;
  output_bytes: number;
  tty?: boolean;
  stdin?: string;
  stdin_writes?: number;
  quiet_ms?: number;
  replay?: boolean;
  next: string;
}

async function start(server: InProcessApp, session: string, cmd: string, params: Record<string, string | number> = {}): Promise<number> {
  const answer = await server.get('/shell', { session, cmd, tty: 1, ...params });
  expect(answer.status, answer.body).toBe(200);
  return answer.json<View>().ticket;
}

async function view(server: InProcessApp, session: string, ticket: number, params: Record<string, string | number> = {}): Promise<View> {
  return (await server.get('/callback', { session, ticket, ...params })).json<View>();
}

/** Waits until the ticket's output holds `text`. */
async function printed(server: InProcessApp, session: string, ticket: number, text: string): Promise<View> {
  let last: View | undefined;
  expect(await until(async () => (last = await view(server, session, ticket)).output.includes(text), 10_000, 50), `"${text}" in ${JSON.stringify(last?.output)}`).toBe(true);
  return last as View;
}

async function write(server: InProcessApp, session: string, ticket: number, n: number, params: Record<string, string | number>): Promise<{ status: number; view: View; body: string }> {
  const answer = await server.get('/stdin', { session, ticket, n, ...params });
  return { status: answer.status, view: answer.json<View>(), body: answer.body };
}

describe('a command on a terminal', () => {
  it('answers a prompt: the view says it waits, the write shows what it produced, the stored output has no control sequences', async () => {
    const server = await inProcessApp();
    const ticket = await start(server, 'p', 'read -p "Continue? [y/N] " a; printf "\\033[1mgot\\033[0m %s\\n" "$a"; tty');
    const waiting = await printed(server, 'p', ticket, 'Continue? [y/N] ');
    expect(waiting).toMatchObject({ tty: true, stdin_writes: 0 });
    expect(waiting.stdin).toMatch(/\/stdin\?token=[^&]+&session=p&ticket=1&n=1&text=$/);
    await until(async () => ((await view(server, 'p', ticket)).quiet_ms ?? 0) >= 1000, 5000, 100);
    expect((await view(server, 'p', ticket)).next).toMatch(/may be waiting for input/);
    const answered = await write(server, 'p', ticket, 1, { text: 'y\r' });
    expect(answered.status).toBe(200);
    expect(answered.view.output).toContain('got y');
    const done = await view(server, 'p', ticket, { wait: 10 });
    expect(done).toMatchObject({ status: 'done', exit_code: 0, stdin_writes: 1 });
    expect(done.output).toBe('Continue? [y/N] y\ngot y\n/dev/pts/' + done.output.split('/dev/pts/')[1]);
    expect(done.output).not.toContain('\u001b');
    expect(done.output).not.toContain('\r');
  });

  it('keeps a python3 REPL across writes, and ends it with eof', async () => {
    const server = await inProcessApp();
    const ticket = await start(server, 'py', 'python3 -q');
    await printed(server, 'py', ticket, '>>> ');
    await write(server, 'py', ticket, 1, { text: 'x = 6 * 7\r' });
    const shown = await write(server, 'py', ticket, 2, { text: 'print(x)\r' });
    expect(shown.view.output).toContain('42');
    await write(server, 'py', ticket, 3, { text: '', eof: 1 });
    expect(await view(server, 'py', ticket, { wait: 10 })).toMatchObject({ status: 'done', exit_code: 0, stdin_writes: 3 });
  });

  it('shows a full-screen program\'s screen (less), now and as it was last', async () => {
    const server = await inProcessApp();
    const ticket = await start(server, 'ls', 'seq 1 1000 | less', { cols: 40, rows: 10 });
    let screen: { lines: string[]; rows: number; cols: number; cursor: { row: number; col: number } } | undefined;
    expect(await until(async () => (screen = (await server.get('/screen', { session: 'ls', ticket })).json()).lines?.[0] === '1', 10_000, 50)).toBe(true);
    expect(screen).toMatchObject({ cols: 40, rows: 10 });
    expect(screen?.lines).toHaveLength(10);
    expect(screen?.lines.slice(0, 9)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9']);
    await write(server, 'ls', ticket, 1, { text: ' ' });
    const paged = (await server.get('/screen', { session: 'ls', ticket, format: 'text' })).body.split('\n');
    expect(paged[0]).toBe('10');
    await write(server, 'ls', ticket, 2, { text: 'q' });
    expect((await view(server, 'ls', ticket, { wait: 10 })).status).toBe('done');
    const last = (await server.get('/screen', { session: 'ls', ticket })).json<{ status: string; lines: string[] }>();
    expect(last.status).toBe('done');
    expect(last.lines).toHaveLength(10);
  });

  it('stops a program with Ctrl-C', async () => {
    const server = await inProcessApp();
    const ticket = await start(server, 'c', 'echo ready; sleep 100');
    await printed(server, 'c', ticket, 'ready');
    await write(server, 'c', ticket, 1, { text: '\u0003' });
    const ended = await view(server, 'c', ticket, { wait: 10 });
    expect(ended.status).toBe('done');
    expect(ended.exit_code).toBe(130);
  });

  it('stores a secret write nowhere: not in the output, the record, the history, the audit log or the server log', async () => {
    const server = await inProcessApp();
    const ticket = await start(server, 's', 'read -r -s -p "Password: " p; echo; echo "length ${#p}"');
    await printed(server, 's', ticket, 'Password: ');
    const secret = 'hunter2-is-the-word';
    await write(server, 's', ticket, 1, { text: `${secret}\r`, secret: 1 });
    const done = await view(server, 's', ticket, { wait: 10 });
    expect(done.output).toContain(`length ${secret.length}`);
    const record = fs.readFileSync(`${server.sessionsDir}/s/${ticket}.ticket`, 'utf8');
    const history = (await server.get('/history', { session: 's', format: 'text' })).body;
    const audit = fs.readFileSync(server.config.auditLog, 'utf8');
    for (const place of [done.output, record, history, audit, server.logLines.join('')]) expect(place).not.toContain(secret);
    expect(audit).toContain(`"text":"[secret input, ${secret.length + 1} bytes]"`);
  });

  it('types a write once however often its URL is fetched, and refuses one out of order or with other text', async () => {
    const server = await inProcessApp();
    const ticket = await start(server, 'r', 'cat');
    await until(async () => (await view(server, 'r', ticket)).status === 'running');
    const first = await write(server, 'r', ticket, 1, { text: 'once\r' });
    expect(first.view.replay).toBe(false);
    const again = await write(server, 'r', ticket, 1, { text: 'once\r' });
    expect(again.view.replay).toBe(true);
    const gap = await write(server, 'r', ticket, 3, { text: 'x' });
    expect(gap.status).toBe(409);
    expect(gap.body).toMatch(/n=2/);
    expect((await write(server, 'r', ticket, 1, { text: 'other' })).status).toBe(409);
    await write(server, 'r', ticket, 2, { text: '', eof: 1 });
    const done = await view(server, 'r', ticket, { wait: 10 });
    // The terminal echoes the line and cat prints it: twice each, never four times.
    expect(done.output.match(/once/g)).toHaveLength(2);
    const audit = fs.readFileSync(server.config.auditLog, 'utf8');
    expect(audit.match(/"event":"stdin"/g)).toHaveLength(2);
  });

  it('refuses input to a ticket that takes none, and bad writes, each with a clear 4xx', async () => {
    const server = await inProcessApp({ MAX_CONCURRENCY: '1' });
    const plain = (await server.get('/shell', { session: 'b', cmd: 'sleep 30' })).json<View>().ticket;
    await until(async () => (await view(server, 'b', plain)).status === 'running');
    const noTerminal = await write(server, 'b', plain, 1, { text: 'x' });
    expect(noTerminal.status).toBe(409);
    expect(noTerminal.body).toMatch(/without a terminal/);
    const queued = await start(server, 'q', 'cat');
    expect((await write(server, 'q', queued, 1, { text: 'x' })).body).toMatch(/still queued/);
    await server.get('/cancel', { session: 'b', ticket: plain });
    expect((await write(server, 'b', plain, 1, { text: 'x' })).body).toMatch(/has ended/);
    expect((await server.get('/stdin', { session: 'q', ticket: queued, n: 1, text: 'a', text64: 'YQ' })).status).toBe(400);
    expect((await server.get('/stdin', { session: 'q', ticket: queued, n: 1, text: 'x'.repeat(64 * 1024 + 1) })).status).toBe(413);
    expect((await server.get('/stdin', { session: 'q', ticket: queued, text: 'x' })).status).toBe(400);
    expect((await server.get('/shell', { session: 'q', cmd: 'true', tty: 1, cols: 10 })).status).toBe(400);
    expect((await server.get('/shell', { session: 'q', cmd: 'true', rows: 10 })).status).toBe(400);
    expect((await server.get('/screen', { session: 'b', ticket: plain })).status).toBe(409);
  });

  it('keeps the session\'s directory and variables, and a later command without a terminal has TERM=dumb', async () => {
    const server = await inProcessApp();
    const ticket = await start(server, 'st', 'cd /tmp && export FOO=bar');
    expect((await view(server, 'st', ticket, { wait: 10 })).status).toBe('done');
    const next = (await server.get('/shell', { session: 'st', cmd: 'pwd; echo "$FOO $TERM"', wait: 10 })).json<View>();
    expect(next.output).toBe('/tmp\nbar dumb\n');
  });
});

describe('since=', () => {
  it('answers as soon as the output grows past the bytes given', async () => {
    const server = await inProcessApp();
    const submitted = (await server.get('/shell', { session: 'f', cmd: 'echo one; sleep 2; echo two; sleep 5' })).json<View>();
    await until(async () => (await view(server, 'f', submitted.ticket)).output === 'one\n');
    const startedAt = Date.now();
    const grown = await view(server, 'f', submitted.ticket, { wait: 10, since: 4 });
    expect(grown.output).toBe('one\ntwo\n');
    expect(Date.now() - startedAt).toBeLessThan(4000);
    expect(grown.status).toBe('running');
    await server.get('/cancel', { session: 'f', ticket: submitted.ticket });
  });
});

describe('a terminal, like any command', () => {
  afterEach(stopAll);

  it('has its limits, its time limit, and cancel ends every process it started', async () => {
    const server = await inProcessApp({ COMMAND_MAX_PROCESSES: '77' });
    const limited = await start(server, 'lim', 'ulimit -u');
    expect((await view(server, 'lim', limited, { wait: 10 })).output).toBe('77\n');
    const timed = await start(server, 'lim', 'sleep 30', { timeout: 1 });
    expect(await view(server, 'lim', timed, { wait: 10 })).toMatchObject({ status: 'timeout' });
    const ticket = await start(server, 'cx', 'sleep 300 & echo "pid $!"; wait');
    const pid = Number(/pid (\d+)/.exec((await printed(server, 'cx', ticket, 'pid ')).output)?.[1]);
    await until(async () => (await view(server, 'cx', ticket)).output.includes('\n'));
    expect(processRunning(pid)).toBe(true);
    expect((await server.get('/cancel', { session: 'cx', ticket })).json<View>().status).toBe('canceled');
    expect(await until(() => !processRunning(pid), 5000)).toBe(true);
  });

  it('is marked interrupted, and its processes ended, by the start after a crash', async () => {
    const dir = tempDir();
    const server = await startServer({ dir });
    const submitted = (await server.get(server.url('/shell', { session: 'crash', cmd: 'echo "pid $$"; sleep 300', tty: 1 }))).json;
    let pid = 0;
    await until(async () => {
      pid = Number(/pid (\d+)/.exec((await server.get(server.url('/callback', { session: 'crash', ticket: submitted.ticket }))).json.output)?.[1] ?? 0);
      return pid > 0;
    });
    server.proc.kill('SIGKILL');
    await server.exited;
    expect(processRunning(pid)).toBe(true);
    const restarted = await startServer({ dir, hash: server.hash });
    expect((await restarted.get(restarted.url('/callback', { session: 'crash', ticket: submitted.ticket }))).json.status).toBe('interrupted');
    expect(await until(() => !processRunning(pid), 5000)).toBe(true);
  });

  it('keeps the server\'s memory flat whatever the program prints', async () => {
    const server = await startServer({ env: { MAX_OUTPUT_BYTES: '1048576' } });
    const pid = server.proc.pid ?? 0;
    const rss = (): number => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
    const before = rss();
    const submitted = (await server.get(server.url('/shell', { session: 'flood', cmd: 'yes "$(printf "\\033[31mred\\033[0m line")" | head -c 30000000', tty: 1 }))).json;
    const done = await waitFinal(server, 'flood', submitted.ticket, { wait: 60 });
    expect(done).toMatchObject({ status: 'done', truncated: true });
    expect(done.output).not.toContain('\u001b');
    expect(rss() - before).toBeLessThan(100 * 1024 * 1024);
  });

  it('is reached through MCP too: shell with tty, stdin, screen', async () => {
    const server = await inProcessApp();
    const call = (name: string, args: Record<string, unknown>) => callTool(server, name, args);
    const started = await call('shell', { session: 'mcp', cmd: 'read -p "Name? " n; echo "hello $n"', tty: 1 });
    const ticket = Number(started.structured.ticket);
    await printed(server, 'mcp', ticket, 'Name? ');
    const written = await call('stdin', { session: 'mcp', ticket, n: 1, text: 'ada\r' });
    expect(written.text).toContain('hello ada');
    await view(server, 'mcp', ticket, { wait: 10 });
    const screen = await call('screen', { session: 'mcp', ticket });
    expect(screen.text).toMatch(/^Name\? ada\nhello ada\n/);
  });
});
