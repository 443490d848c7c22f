// Shells started ahead: when a session's command has ended, its next shell is started at once,
// with the state that command left, and waits in the prelude for its go, which carries the next
// command. Also the files made ahead for the next records. Real server, real bash, real /proc.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { processRunning, processesWhere, run, startServer, startedByServer, stopAll, until, waitFinal, type TestServer } from './helpers/server.js';

afterEach(stopAll);

/** The server's children that carry a tracking marker and have not been handed a command: its ready shells. */
function readyShells(server: TestServer): number[] {
  return processesWhere((pid) => {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (!startedByServer(server, pid) || fields[0] === 'Z') return false;
    return fs.readFileSync(`/proc/${pid}/environ`, 'latin1').includes('LLMASS_TICKET=');
  });
}

/** Waits until the session's next shell is ready (the server starts it once the last command's state is kept). */
async function readyShell(server: TestServer): Promise<number> {
  let pids: number[] = [];
  expect(await until(() => (pids = readyShells(server)).length === 1, 5000)).toBe(true);
  return pids[0] ?? -1;
}

/** The ticket cgroup a process is in, as a directory, when the server tracks by cgroup. */
function cgroupDirOf(pid: number): string | undefined {
  const line = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((entry) => entry.startsWith('0::'));
  const group = line?.slice(3);
  if (group === undefined || !group.includes('/llmass-tickets/')) return undefined;
  const mount = fs.existsSync('/sys/fs/cgroup/unified/cgroup.procs') ? '/sys/fs/cgroup/unified' : '/sys/fs/cgroup';
  return path.join(mount, group);
}

const temps = (server: TestServer, session: string): string[] => fs.readdirSync(path.join(server.sessionsDir, session)).filter((name) => name.endsWith('.tmp'));

describe('a shell started ahead', () => {
  it('runs the session\'s next command, in the directory and with the variables the last one left', async () => {
    const server = await startServer();
    await run(server, 'cd /tmp && export WARM="ready and waiting"', { session: 'w' });
    const pid = await readyShell(server);
    expect(fs.readlinkSync(`/proc/${pid}/cwd`)).toBe('/tmp');
    // Waiting is not running: bash's clock ($SECONDS) starts when the command does.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const next = await run(server, 'echo "$$ $PWD $WARM $SECONDS"', { session: 'w' });
    expect(next.output).toBe(`${pid} /tmp ready and waiting 0\n`);
    expect(next.status).toBe('done');
    // Every command is one shell deep, however many came before it.
    const levels = [(await run(server, 'echo $SHLVL', { session: 'w' })).output];
    await readyShell(server);
    levels.push((await run(server, 'echo $SHLVL', { session: 'w' })).output);
    expect(levels[1]).toBe(levels[0]);
  });

  it('runs the command exactly as bash -c would: bytes, quoting, lines, exit status, syntax errors', async () => {
    const server = await startServer();
    await run(server, 'true', { session: 'exact' });
    await readyShell(server);
    const command = `  printf '[%s]' "  lead" 'back\\\\slash' "tab\there" 'ü € 😀' "$(printf 'a\\nb')" # comment\n\necho "$0 last" ; exit 3  \n`;
    let expected = '';
    try {
      execFileSync('/bin/bash', ['-c', command], { encoding: 'utf8', env: { PATH: process.env.PATH, LANG: 'C.UTF-8' } });
    } catch (error) {
      expected = String((error as { stdout: string }).stdout);
    }
    expect(expected).toContain('[  lead]');
    const result = await run(server, command, { session: 'exact' });
    expect(result.output.replace(/^\S*bash last/m, '$0 last')).toBe(expected.replace(/^\S*bash last/m, '$0 last'));
    expect(result.exit_code).toBe(3);
    await readyShell(server);
    const broken = await run(server, 'echo before; if', { session: 'exact' });
    expect([broken.exit_code, broken.output]).toEqual([2, expect.stringMatching(/syntax error/)]);
    expect(broken.output).not.toContain('before');
    await readyShell(server);
    expect((await run(server, 'echo "${__llmass_cmd-gone}"; return 1', { session: 'exact' })).output).toMatch(/^gone\n.*return: can only/);
  });

  it('runs a command in its ticket\'s cgroup from its first line, in a new shell and in one started ahead (where the host gives cgroups)', async () => {
    const { ProcessTracking } = await import('../src/running/processTracking.js');
    const tracking = ProcessTracking.detect(ProcessTracking.newId(), () => undefined);
    if (tracking.cgroupBase === null) {
      process.stdout.write('warmShells.test.ts: cgroup check skipped: this host gives no cgroup v2 group to make (CI runs as root, where it does)\n');
      return;
    }
    tracking.close();
    const server = await startServer();
    // Builtins only: the shell itself, before it has started anything.
    const cmd = 'while IFS= read -r line; do printf "%s\\n" "$line"; done < /proc/self/cgroup';
    const groupOf = (session: string, ticket: number): string =>
      JSON.parse(fs.readFileSync(path.join(server.sessionsDir, session, `${ticket}.ticket`), 'utf8')).process_marker;
    const cold = await run(server, cmd, { session: 'cg' });
    expect(cold.output).toMatch(new RegExp(`/llmass-tickets/[0-9a-f]{16}/${groupOf('cg', cold.ticket)}\n`));
    await readyShell(server);
    const warm = await run(server, cmd, { session: 'cg' });
    expect(warm.output).toMatch(new RegExp(`/llmass-tickets/[0-9a-f]{16}/${groupOf('cg', warm.ticket)}\n`));
  });

  it('is ended at shutdown; one whose server is killed exits by itself', async () => {
    const server = await startServer();
    await run(server, 'true', { session: 'bye' });
    const pid = await readyShell(server);
    const group = cgroupDirOf(pid);
    if (group !== undefined) expect(fs.existsSync(group)).toBe(true);
    await server.stop();
    expect(processRunning(pid)).toBe(false);
    expect(temps(server, 'bye')).toEqual([]);
    // Its cgroup (where the host gives the server cgroups) is removed too, not left to the next start.
    if (group !== undefined) expect(fs.existsSync(group)).toBe(false);

    const killed = await startServer();
    await run(killed, 'true', { session: 'orphan' });
    const orphan = await readyShell(killed);
    killed.proc.kill('SIGKILL');
    await killed.exited;
    expect(await until(() => !processRunning(orphan), 5000)).toBe(true);
  });

  it('takes commands sent back to back, each the moment the last answer came: none finds its shell unusable, each runs under its limit group', async () => {
    const server = await startServer();
    const groups: string[] = [];
    for (let i = 0; i < 20; i += 1) {
      // One GET each, sent as soon as the last one answered: the shell started ahead for it is
      // still being moved into its group when the command comes.
      const answer = await server.get(server.url('/shell', { session: 'b2b', cmd: 'cat /proc/self/cgroup', wait: 10, nonce: i }));
      expect(answer.json.status, answer.text).toBe('done');
      groups.push(String(answer.json.output));
    }
    const metrics = (await server.get(server.url('/metrics'))).text;
    const count = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1]);
    expect(count('llmass_ready_shells_unusable_total')).toBe(0);
    // Each but the first may start in the shell started ahead; one whose answer went out before
    // the next shell was prepared starts its own, so most, not all.
    expect(count('llmass_ready_shells_used_total')).toBeGreaterThanOrEqual(15);
    // Where the host gives the server groups (cgroup v2 tracking, v1 pids and memory limits
    // here), every command is in each: the spawner moved the shell started ahead into them.
    const held = [
      ['/sys/fs/cgroup/unified/cgroup.procs', /^0::.*\/llmass-tickets\//m],
      ['/sys/fs/cgroup/pids/cgroup.procs', /:pids:.*\/llmass-tickets\//],
      ['/sys/fs/cgroup/memory/cgroup.procs', /:memory:.*\/llmass-tickets\//],
    ] as const;
    for (const [present, inGroup] of held) if (fs.existsSync(present)) for (const group of groups) expect(group).toMatch(inGroup);
  });

  it('is asked of the spawner after the last command\'s answer has gone out, not before (strace of the server)', async () => {
    const server = await startServer();
    await run(server, 'true', { session: 'order' });
    await readyShell(server);
    // The server's own writes, in the order its one thread made them: the answer to the client
    // (writev, "HTTP/1.1 200"), and the spawner's request for the session's next shell.
    const trace = path.join(server.dir, 'writes.trace');
    const strace = spawn('strace', ['-qq', '-s', '32', '-e', 'trace=write,writev', '-o', trace, '-p', String(server.proc.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
    const traced = new Promise((resolve) => strace.once('exit', resolve));
    try {
      // strace has attached once the server's writes show up in its file: a /healthz makes one.
      expect(await until(async () => (await server.get(server.url('/healthz'))).status === 200 && fs.existsSync(trace) && fs.readFileSync(trace, 'utf8').includes('HTTP/1.1'), 10_000, 100)).toBe(true);
      const done = await server.get(server.url('/shell', { session: 'order', cmd: 'true', wait: 10 }));
      expect(done.json.status).toBe('done');
      await readyShell(server);
    } finally {
      strace.kill('SIGINT');
      await traced;
    }
    const lines = fs.readFileSync(trace, 'utf8').split('\n');
    // The last answer is the /shell's (nothing else was asked after it).
    const answered = lines.findLastIndex((line) => line.startsWith('writev(') && line.includes('HTTP/1.1 200'));
    const asked = lines.findLastIndex((line) => line.includes('{\\"kind\\":\\"spawn\\"'));
    expect(answered, lines.join('\n')).toBeGreaterThan(-1);
    expect(asked, lines.join('\n')).toBeGreaterThan(answered);
  });

  it('killed from outside, is replaced: the next command starts a shell of its own', async () => {
    const server = await startServer();
    await run(server, 'true', { session: 'k' });
    const pid = await readyShell(server);
    process.kill(pid, 'SIGKILL');
    expect(await until(() => !processRunning(pid), 5000)).toBe(true);
    const next = await run(server, 'echo $$', { session: 'k' });
    expect(next.status, JSON.stringify(next)).toBe('done');
    expect(next.output).not.toBe(`${pid}\n`);
  });

  it('killed from outside the moment its command comes, is replaced under the same tracking: the command runs', async () => {
    const server = await startServer();
    for (let i = 0; i < 8; i += 1) {
      await run(server, 'true', { session: 'kk', nonce: `a${i}` });
      const pid = await readyShell(server);
      // No wait for the exit: the command comes while the dead shell is still being ended, and
      // its new shell goes into the groups of the same id, which must not be removed meanwhile.
      process.kill(pid, 'SIGKILL');
      const next = await server.get(server.url('/shell', { session: 'kk', cmd: 'echo ran', wait: 10, nonce: `b${i}` }));
      expect(next.text).not.toContain('could not be put under tracking');
      // Ran in the new shell; or, when the KILL landed after the server had found the shell alive
      // and handed it the command, nothing ran and the answer says so.
      if (next.json.status === 'done') expect(next.json.output).toBe('ran\n');
      else expect(next.json.reason, next.text).toMatch(/^nothing ran: the shell was killed by SIGKILL/);
    }
  });

  it('serves one of two commands submitted at once; each is tracked under its own id', async () => {
    const server = await startServer();
    await run(server, 'true', { session: 'two' });
    const pid = await readyShell(server);
    const [first, second] = await Promise.all(['echo one $$', 'echo two $$'].map((cmd) => server.get(server.url('/shell', { session: 'two', cmd }))));
    const results = [await waitFinal(server, 'two', first?.json.ticket), await waitFinal(server, 'two', second?.json.ticket)];
    const shells = results.map((r) => Number(/^(?:one|two) (\d+)\n$/.exec(r.output)?.[1]));
    expect(shells.filter((shell) => shell === pid)).toHaveLength(1);
    expect(shells.every((shell) => shell > 0)).toBe(true);
    const markers = results.map((r) => JSON.parse(fs.readFileSync(path.join(server.sessionsDir, 'two', `${r.ticket}.ticket`), 'utf8')).process_marker);
    expect(new Set(markers).size).toBe(2);
  });
});

describe('record files made ahead', () => {
  it('are used for the next records, two wait while the session is idle, and none is left after a stop or a crash', async () => {
    const server = await startServer();
    for (let i = 0; i < 3; i += 1) await run(server, `echo ${i}`, { session: 'files' });
    await readyShell(server);
    expect(await until(() => temps(server, 'files').length === 2, 5000)).toBe(true);
    // The next queued record's file, made ahead, and the spare: the last ticket's queued record,
    // kept under a second name when its final record replaced it (spareRecords.ts).
    const dir = path.join(server.sessionsDir, 'files');
    const inode = (name: string): number => fs.statSync(path.join(dir, name)).ino;
    const waiting = temps(server, 'files');
    for (const name of waiting) expect(name).toMatch(/^\.next\.ticket\.\d+\.\d+\.tmp$/);
    const waitingInodes = waiting.map(inode);
    const submitted = (await server.get(server.url('/shell', { session: 'files', cmd: 'sleep 0.5; echo 3' }))).json;
    // The queued record goes into one of them; the final record into the other, the spare: no
    // new inode for it, and the queued record's inode is kept in turn as the next spare.
    const queuedInode = inode(`${submitted.ticket}.ticket`);
    expect(waitingInodes).toContain(queuedInode);
    const spareInode = waitingInodes.find((ino) => ino !== queuedInode);
    const next = await waitFinal(server, 'files', submitted.ticket);
    expect(next.output).toBe('3\n');
    expect(inode(`${submitted.ticket}.ticket`)).toBe(spareInode);
    expect(await until(() => temps(server, 'files').length === 2, 5000)).toBe(true);
    expect(temps(server, 'files').map(inode)).toContain(queuedInode);
    // Every record has its one name, and the records written before are as they were.
    for (const name of fs.readdirSync(dir).filter((entry) => entry.endsWith('.ticket'))) expect(fs.statSync(path.join(dir, name)).nlink).toBe(1);
    expect([1, 2, 3].map((n) => JSON.parse(fs.readFileSync(path.join(dir, `${n}.ticket`), 'utf8')).output)).toEqual(['0\n', '1\n', '2\n']);
    expect(fs.readdirSync(path.join(server.sessionsDir, 'files')).filter((name) => name.endsWith('.ticket')).sort()).toEqual(['1.ticket', '2.ticket', '3.ticket', '4.ticket']);
    await server.stop();
    expect(temps(server, 'files')).toEqual([]);

    const crashed = await startServer();
    await run(crashed, 'true', { session: 'crash' });
    expect(await until(() => temps(crashed, 'crash').length === 2, 5000)).toBe(true);
    crashed.proc.kill('SIGKILL');
    await crashed.exited;
    const again = await startServer({ dir: crashed.dir, hash: crashed.hash });
    expect(temps(again, 'crash')).toEqual([]);
    expect((await run(again, 'echo after', { session: 'crash' })).output).toBe('after\n');
  });
});

describe('TempFilesAhead', () => {
  it('keeps at most its bound, gives up a file still being made, and removes every one on dropAll, waiting for those being removed', async () => {
    const { TempFilesAhead } = await import('../src/storage/tempFiles.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmass-ahead-'));
    try {
      const ahead = new TempFilesAhead(2);
      const files = ['a', 'b', 'c'].map((name) => path.join(dir, name));
      ahead.prepare('a', files[0] ?? '');
      // Taken before it could be made: given up, and removed once made.
      expect(ahead.take('a')).toBeUndefined();
      for (const [i, key] of ['a', 'b', 'c'].entries()) ahead.prepare(key, `${files[i]}2`);
      expect(ahead.size).toBe(2);
      expect(await until(() => fs.readdirSync(dir).sort().join() === 'b2,c2', 5000)).toBe(true);
      const ready = ahead.take('b');
      expect(ready?.file).toBe(`${files[1]}2`);
      if (ready !== undefined) fs.closeSync(ready.fd);
      // One given up while being made, then shutdown at once: dropAll waits for its removal.
      ahead.prepare('d', path.join(dir, 'd'));
      expect(ahead.take('d')).toBeUndefined();
      await ahead.dropAll();
      expect(fs.readdirSync(dir)).toEqual(['b2']);
      expect(ahead.size).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tells when a file being made is ready, and hands a file to another write, made or being made', async () => {
    const { TempFilesAhead } = await import('../src/storage/tempFiles.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmass-ahead-'));
    try {
      const ahead = new TempFilesAhead();
      ahead.prepare('next', path.join(dir, 'n'));
      ahead.prepare('other', path.join(dir, 'o'));
      const made = ahead.whenMade('next');
      expect(made).toBeInstanceOf(Promise);
      // Handed on while still being made: it is ready under its new name, not the old.
      expect(ahead.rekey('next', 'ticket 7')).toBe(true);
      expect(ahead.rekey('other', 'ticket 7')).toBe(false);
      expect(ahead.rekey('gone', 'ticket 8')).toBe(false);
      await made;
      expect(ahead.whenMade('ticket 7')).toBeUndefined();
      expect(ahead.take('next')).toBeUndefined();
      const ready = ahead.take('ticket 7');
      expect(ready?.file).toBe(path.join(dir, 'n'));
      if (ready !== undefined) fs.closeSync(ready.fd);
      await ahead.dropAll();
      expect(fs.readdirSync(dir)).toEqual(['n']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a record written while its file is still being made', () => {
  it('waits for that file instead of making one of its own', async () => {
    const { TicketStore } = await import('../src/storage/ticketStore.js');
    const { SessionLayout } = await import('../src/storage/sessionLayout.js');
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'llmass-store-'));
    const store = new TicketStore(new SessionLayout(root), 64 << 20);
    const dir = path.join(root, 's');
    fs.mkdirSync(dir);
    const seen: string[] = [];
    const watcher = fs.watch(dir, (_event, name) => {
      if (name !== null) seen.push(String(name));
    });
    try {
      store.prepareNextTicket('s');
      // At once, before the thread pool can have made the file.
      await store.write({ ticket: 1, session: 's', input: 'true', status: 'queued', submitted_at: new Date().toISOString(), key: null, process_marker: null, started_at: null, timeout: 60, idle_timeout: null, nonce: null });
      expect(JSON.parse(fs.readFileSync(path.join(dir, '1.ticket'), 'utf8')).status).toBe('queued');
      // inotify reports in order: once the rename into 1.ticket is seen, every earlier create is too.
      expect(await until(() => seen.includes('1.ticket'), 5000)).toBe(true);
      expect(seen.filter((name) => name.startsWith('.1.ticket.'))).toEqual([]);
    } finally {
      watcher.close();
      await store.dropPrepared();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
