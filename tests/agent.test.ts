// The agent's side: long-poll, paging, text formats, session shell state, idle timeouts,
// /sessions, and an end-to-end run that follows only the URLs the server hands back.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startServer, stopAll, tempDir, waitFinal, type TestServer } from './helpers/server.js';

let server: TestServer;
let workdir: string;
beforeAll(async () => {
  workdir = tempDir('llmass-workdir-');
  server = await startServer({ env: { WORKDIR: workdir, MAX_CONCURRENCY: '8' } });
});
afterAll(stopAll);

/** CPU time (user + system) a process has used, in clock ticks, from /proc. */
function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

describe('long-poll', () => {
  it('answers a waiting /callback within 100 ms of the ticket finishing', async () => {
    const submitted = (await server.get(server.url('/shell', { session: 'lp', cmd: 'sleep 1; echo woke' }))).json;
    const answer = await server.get(server.url('/callback', { session: 'lp', ticket: submitted.ticket, wait: 20 }));
    const arrived = Date.now();
    expect(answer.json).toMatchObject({ type: 'result', status: 'done', output: 'woke\n' });
    expect(arrived - Date.parse(answer.json.finished_at)).toBeLessThan(100);
  });

  it('answers with the running status after N seconds for a longer command', async () => {
    const submitted = (await server.get(server.url('/shell', { session: 'lp2', cmd: 'echo partial; sleep 30' }))).json;
    const t0 = Date.now();
    const answer = await server.get(server.url('/callback', { session: 'lp2', ticket: submitted.ticket, wait: 1 }));
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(950);
    expect(waited).toBeLessThan(2500);
    expect(answer.json).toMatchObject({ type: 'status', status: 'running', output: 'partial\n' });
    expect(answer.json.poll).toMatch(/&wait=\d+&cursor=[0-9a-z]+$/);
    expect(answer.json.cancel).toMatch(/\/cancel\?/);
    await server.get(server.url('/cancel', { session: 'lp2', ticket: submitted.ticket }));
  });

  it('turns a short command into one GET with /shell?wait=', async () => {
    const answer = await server.get(server.url('/shell', { session: 'one', cmd: 'echo single', wait: 10 }));
    expect(answer.json).toMatchObject({ type: 'result', ticket: 1, session: 'one', status: 'done', output: 'single\n', exit_code: 0 });
  });

  it('caps wait at MAX_WAIT', async () => {
    const capped = await startServer({ env: { MAX_WAIT: '1' } });
    const t0 = Date.now();
    const answer = await capped.get(capped.url('/shell', { session: 'cap', cmd: 'sleep 5', wait: 30 }));
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(answer.json.type).toBe('submission');
    await capped.get(capped.url('/cancel', { session: 'cap', ticket: 1 }));
  });

  it('holds 200 waiting requests without noticeable CPU use', async () => {
    const pid = server.proc.pid ?? 0;
    const submitted = (await server.get(server.url('/shell', { session: 'many', cmd: 'sleep 6' }))).json;
    const target = server.url('/callback', { session: 'many', ticket: submitted.ticket, wait: 5 });
    const waiting = Array.from({ length: 200 }, () => server.get(target));
    // Let the 200 connections arrive, then measure CPU over a quiet two-second window.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const from = cpuTicks(pid);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const used = cpuTicks(pid) - from;
    const answers = await Promise.all(waiting);
    expect(answers.every((a) => a.status === 200 && a.json.status === 'running')).toBe(true);
    // Two seconds are 200 ticks of one core; waiting must cost under 5% of that.
    expect(used).toBeLessThan(10);
    await server.get(server.url('/cancel', { session: 'many', ticket: submitted.ticket }));
  });
});

describe('output views', () => {
  const expected = execFileSync('/bin/bash', ['-c', 'seq 1 150000'], { maxBuffer: 64 << 20 });

  it('pages exact byte windows with offset and limit', async () => {
    const result = await run(server, 'seq 1 150000', { session: 'page' });
    expect(result.output_bytes).toBe(expected.length);
    for (const [offset, limit] of [[0, 10], [1000, 500], [expected.length - 7, 100], [123457, 4096]] as const) {
      const answer = await server.get(server.url('/callback', { session: 'page', ticket: result.ticket, offset, limit }));
      expect(answer.json.output).toBe(expected.subarray(offset, offset + limit).toString());
      expect(answer.json.output_offset).toBe(offset);
      expect(answer.json.output_bytes).toBe(expected.length);
    }
  });

  it('shows a 1 MB output within OUTPUT_VIEW_BYTES plus a notice that names the next page', async () => {
    const result = await run(server, 'seq 1 150000', { session: 'page' });
    const view = (await server.get(server.url('/callback', { session: 'page', ticket: result.ticket }))).json;
    expect(expected.length).toBeGreaterThan(900_000);
    expect(Buffer.byteLength(view.output)).toBeLessThanOrEqual(32768 + 400);
    expect(view.output.startsWith('1\n2\n3\n')).toBe(true);
    expect(view.output.endsWith('149999\n150000\n')).toBe(true);
    expect(view.output).toMatch(/\[llmass: \d+ stored bytes not shown here/);
    expect(view.next_page).toMatch(/offset=16384&limit=32768&cursor=[0-9a-z]+$/);
    expect(view.next).toMatch(/next_page/);
    const next = await server.get(view.next_page.replace(/^http:\/\/localhost:\d+/, ''));
    expect(next.json.output).toBe(expected.subarray(16384, 16384 + 32768).toString());
  });
});

describe('format=text', () => {
  it('renders /callback and /history as text/plain transcripts with command, output and exit code', async () => {
    const result = await run(server, 'echo transcript; exit 4', { session: 'text' });
    const one = await server.get(server.url('/callback', { session: 'text', ticket: result.ticket, format: 'text' }));
    expect(one.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(one.text).toMatch(/^\[ticket 1 · done · exit 4 · \d+ ms\]\n\$ echo transcript; exit 4\ntranscript\n/);
    const all = await server.get(server.url('/history', { session: 'text', format: 'text' }));
    expect(all.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(all.text).toContain('$ echo transcript; exit 4');
    expect(all.text).toContain('exit 4');
  });
});

describe('session shell state', () => {
  it('carries cd and export from one ticket to the next', async () => {
    await run(server, 'cd /tmp && export LLMASS_X=1', { session: 'state' });
    const result = await run(server, 'pwd; echo $LLMASS_X', { session: 'state' });
    expect(result.output).toBe('/tmp\n1\n');
  });

  it('does not carry state across sessions', async () => {
    await run(server, 'cd /usr && export LLMASS_Y=2', { session: 'state-a' });
    const other = await run(server, 'pwd; echo ${LLMASS_Y:-unset}', { session: 'state-b' });
    expect(other.output).toBe(`${workdir}\nunset\n`);
  });

  it('survives a failing command and a command that calls exit', async () => {
    const failed = await run(server, 'cd /usr; export A=1; false', { session: 'state-exit' });
    expect(failed.exit_code).toBe(1);
    expect((await run(server, 'pwd; echo $A', { session: 'state-exit' })).output).toBe('/usr\n1\n');
    const exited = await run(server, 'cd /var; export B=2; exit 3', { session: 'state-exit' });
    expect(exited.exit_code).toBe(3);
    expect((await run(server, 'pwd; echo $A $B', { session: 'state-exit' })).output).toBe('/var\n1 2\n');
  });

  it('forgets an unset variable and starts in WORKDIR when the directory is gone', async () => {
    const gone = path.join(tempDir(), 'gone');
    await run(server, `export Z=1; mkdir -p ${gone} && cd ${gone}`, { session: 'state-gone' });
    await run(server, `unset Z; rmdir ${gone}`, { session: 'state-gone' });
    const result = await run(server, 'pwd; echo ${Z:-unset}', { session: 'state-gone' });
    expect(result.output).toContain(`no longer exists`);
    expect(result.output.endsWith(`${workdir}\nunset\n`)).toBe(true);
  });

  it('runs commands with TERM=dumb, NO_COLOR=1, PAGER=cat and GIT_PAGER=cat', async () => {
    const result = await run(server, 'echo $TERM $NO_COLOR $PAGER $GIT_PAGER', { session: 'envvars' });
    expect(result.output).toBe('dumb 1 cat cat\n');
  });
});

describe('idle_timeout', () => {
  it('ends a command that prints nothing for N seconds, with timeout_kind idle', async () => {
    const t0 = Date.now();
    const result = await run(server, 'echo a; sleep 30', { session: 'idle', idle_timeout: 1 });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(result).toMatchObject({ status: 'timeout', timeout_kind: 'idle', idle_timeout: 1, output: 'a\n' });
  });

  it('lets a command that keeps printing run on', async () => {
    // Longer than its idle limit in all, and never silent for more than a tenth of it (plus what
    // a loaded machine adds to starting a sleep), so that load cannot make a gap reach the limit.
    const result = await run(server, 'for i in $(seq 1 15); do echo $i; sleep 0.2; done', { session: 'idle', idle_timeout: 2 });
    expect(result).toMatchObject({ status: 'done', output: `${Array.from({ length: 15 }, (_, i) => i + 1).join('\n')}\n` });
    expect(result.duration_ms).toBeGreaterThan(2000);
    expect(result.timeout_kind).toBeUndefined();
  });

  it('records a hard timeout as timeout_kind hard', async () => {
    const result = await run(server, 'while true; do echo x; sleep 0.1; done', { session: 'idle', idle_timeout: 5, timeout: 1 });
    expect(result).toMatchObject({ status: 'timeout', timeout_kind: 'hard' });
  });
});

describe('/sessions', () => {
  it('lists sessions newest first with ticket counts, busy flags and ready URLs', async () => {
    const own = await startServer();
    await run(own, 'true', { session: 'older' });
    await run(own, 'true', { session: 'newer' });
    await run(own, 'true', { session: 'newer', nonce: 2 });
    const busy = (await own.get(own.url('/shell', { session: 'busy', cmd: 'sleep 30' }))).json;
    const answer = (await own.get('/sessions')).json;
    expect(answer.sessions.map((s: { session: string }) => s.session)).toEqual(['busy', 'newer', 'older']);
    expect(answer.sessions[0]).toMatchObject({ session: 'busy', tickets: 1, busy: true });
    expect(answer.sessions[1]).toMatchObject({ session: 'newer', tickets: 2, busy: false });
    expect(answer.sessions[1].view).toContain('/view?token=r.newer.');
    expect(answer.sessions[1]).toMatchObject({ key: 'HASH' });
    expect(answer.next).toBeTruthy();
    await own.get(own.url('/cancel', { session: 'busy', ticket: busy.ticket }));
  });
});

describe('an agent following only the URLs it is handed', () => {
  it('makes a directory, writes a file in it and reads it back', async () => {
    const context = await server.get(server.url('/context', { format: 'md' }));
    const example = /(http\S+\/shell\?hash=\S+&wait=25&cmd=)pwd/.exec(context.text);
    expect(example).not.toBeNull();
    const start = example?.[1] ?? '';

    async function follow(url: string) {
      let answer = (await fetch(url).then((r) => r.json())) as Record<string, string>;
      while (answer.type !== 'result') {
        const poll = answer.poll;
        if (poll === undefined) throw new Error(`no poll URL in ${JSON.stringify(answer)}`);
        answer = (await fetch(poll).then((r) => r.json())) as Record<string, string>;
      }
      return answer;
    }

    const first = await follow(start + encodeURIComponent('mkdir -p agent-dir && cd agent-dir'));
    expect(first.status).toBe('done');
    const second = await follow(first.shell + encodeURIComponent('echo hello from the agent > note.txt'));
    expect(second.status).toBe('done');
    const third = await follow(second.shell + encodeURIComponent('cat note.txt; pwd'));
    expect(third.output).toBe(`hello from the agent\n${workdir}/agent-dir\n`);
    expect(fs.readFileSync(path.join(workdir, 'agent-dir', 'note.txt'), 'utf8')).toBe('hello from the agent\n');
  });
});

describe('every answer says what to do next', () => {
  it('carries next or hint on submissions, views and errors', async () => {
    const submitted = (await server.get(server.url('/shell', { session: 'nx', cmd: 'sleep 0.3' }))).json;
    expect(submitted.next).toMatch(/poll/);
    for (const key of ['callback', 'poll', 'cancel']) expect(submitted[key]).toMatch(/^http/);
    const result = await waitFinal(server, 'nx', submitted.ticket);
    expect(result.next).toMatch(/exit 0/);
    expect(result.shell).toMatch(/^http.*cmd=$/);
    const error = (await server.get(server.url('/callback', { session: 'nx' }))).json;
    expect(error.hint).toMatch(/ticket/);
  });
});
