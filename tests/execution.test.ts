// Execution rules: COMMAND_SHELL -c, stdin /dev/null, merged output in order, own process
// group, background children, time limits that end the whole group, head+tail truncation.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processRunning, run, startServer, stopAll, until, waitFinal, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ env: { COMMAND_TIMEOUT: '20', MAX_OUTPUT_BYTES: '10000' } });
});
afterAll(stopAll);

describe('execution', () => {
  it('runs with stdin at /dev/null', async () => {
    const result = await run(server, 'readlink /proc/self/fd/0; cat; echo rc=$?', { session: 'stdin' });
    expect(result.output).toBe('/dev/null\nrc=0\n');
  });

  it('merges stdout and stderr in the order they were written', async () => {
    const result = await run(server, 'echo out1; echo err1 >&2; echo out2; echo err2 >&2; echo out3', { session: 'merge' });
    expect(result.output).toBe('out1\nerr1\nout2\nerr2\nout3\n');
  });

  it('gives the command its own process group, led by the shell', async () => {
    const result = await run(server, 'echo $$ $(ps -o pgid= -p $$)', { session: 'pgid' });
    const [pid, pgid] = result.output.trim().split(/\s+/).map(Number);
    expect(pgid).toBe(pid);
    const serverGroup = Number(execFileSync('ps', ['-o', 'pgid=', '-p', String(server.proc.pid)], { encoding: 'utf8' }).trim());
    expect(pgid).not.toBe(serverGroup);
  });

  it('finishes when the shell exits, even with a background child still running', async () => {
    const t0 = Date.now();
    const result = await run(server, 'sleep 100 & echo $!; echo started', { session: 'bg' });
    expect(Date.now() - t0).toBeLessThan(5000);
    const [childPid, word] = result.output.trim().split('\n');
    expect(word).toBe('started');
    expect(result.status).toBe('done');
    expect(processRunning(Number(childPid))).toBe(true);
    process.kill(Number(childPid), 'SIGKILL');
  });

  it('ends the whole process group at the time limit and keeps the output so far', async () => {
    const t0 = Date.now();
    const result = await run(server, 'sleep 60 & echo $!; sleep 60 & echo $!; echo begun; wait', { session: 'limit', timeout: 1 });
    expect(Date.now() - t0).toBeLessThan(6000);
    expect(result).toMatchObject({ status: 'timeout', timeout_kind: 'hard', timeout: 1 });
    const lines = result.output.trim().split('\n');
    expect(lines[2]).toBe('begun');
    for (const pid of lines.slice(0, 2).map(Number)) expect(processRunning(pid), `child ${pid}`).toBe(false);
  });

  it('KILLs a group that ignores TERM after the grace period', async () => {
    const result = await run(server, "trap '' TERM; sleep 60 & echo $!; wait; wait", { session: 'stubborn', timeout: 1 });
    expect(result.status).toBe('timeout');
    expect(processRunning(Number(result.output.trim()))).toBe(false);
  });

  it('never raises the limit past COMMAND_TIMEOUT', async () => {
    const submitted = await server.get(server.url('/shell', { session: 'cap', cmd: 'true', timeout: 999 }));
    expect(submitted.status).toBe(200);
    const result = await waitFinal(server, 'cap', submitted.json.ticket);
    expect(result.timeout).toBe(20);
  });

  it('streams output to disk while the command runs', async () => {
    const submitted = await server.get(server.url('/shell', { session: 'stream', cmd: 'echo first; sleep 1; echo second' }));
    const spool = path.join(server.sessionsDir, 'stream', `.${submitted.json.ticket}.out`);
    expect(await until(() => fs.existsSync(spool) && fs.readFileSync(spool).includes('first'))).toBe(true);
    const during = await server.get(server.url('/callback', { session: 'stream', ticket: submitted.json.ticket }));
    expect(during.json.status).toBe('running');
    expect(during.json.output).toBe('first\n');
    const result = await waitFinal(server, 'stream', submitted.json.ticket);
    expect(result.output).toBe('first\nsecond\n');
    expect(fs.existsSync(spool)).toBe(false);
  });

  it('makes no spool file until the command prints something', async () => {
    const submitted = await server.get(server.url('/shell', { session: 'silent', cmd: 'sleep 1; echo late' }));
    const ticket = submitted.json.ticket;
    const spool = path.join(server.sessionsDir, 'silent', `.${ticket}.out`);
    const callback = server.url('/callback', { session: 'silent', ticket });
    expect(await until(async () => (await server.get(callback)).json.status === 'running')).toBe(true);
    expect(fs.existsSync(spool)).toBe(false);
    const result = await waitFinal(server, 'silent', ticket);
    expect(result.output).toBe('late\n');
    expect(fs.existsSync(spool)).toBe(false);
  });

  it('keeps head and tail past MAX_OUTPUT_BYTES, says truncated, and counts every byte', async () => {
    const cmd = 'seq 1 200000';
    const expected = execFileSync('/bin/bash', ['-c', cmd], { maxBuffer: 64 << 20 });
    const result = await run(server, cmd, { session: 'big' });
    expect(result.truncated).toBe(true);
    expect(result.output_bytes).toBe(expected.length);
    const stored: string = result.output;
    expect(stored.startsWith('1\n2\n3\n')).toBe(true);
    expect(stored.endsWith('199999\n200000\n')).toBe(true);
    expect(stored).toMatch(/\[llmass: \d+ bytes of output were not stored \(dropped for good\)/);
    const file = path.join(server.sessionsDir, 'big', `${result.ticket}.ticket`);
    // JSON escapes each newline as two bytes: seq's output is one newline in six bytes.
    expect(fs.statSync(file).size).toBeLessThan(10000 * 1.25 + 2000);
    const onDisk = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(Buffer.byteLength(onDisk.output)).toBeLessThan(10000 + 300);
    const head = expected.subarray(0, 5000).toString();
    const tail = expected.subarray(expected.length - 5000).toString();
    expect(onDisk.output.startsWith(head)).toBe(true);
    expect(onDisk.output.endsWith(tail)).toBe(true);
  });
});
