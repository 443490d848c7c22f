// The spawner process: shells started ahead are forked there, off the server's event loop
// (spawner.ts). Real server, real spawner, real bash, the real process table; the spawner is
// killed by its PID.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { processRunning, run, spawnerOf, startServer, stopAll, until, waitFinal, type TestServer } from './helpers/server.js';

afterEach(stopAll);

/** The server's spawner, once it runs (it is started with the first shell started ahead). */
async function spawner(server: TestServer): Promise<number> {
  let pid: number | undefined;
  expect(await until(() => (pid = spawnerOf(server)) !== undefined, 5000)).toBe(true);
  return pid ?? -1;
}

/** The session's shell started ahead, waiting in the prelude: a child of the spawner carrying a tracking marker. */
async function readyShellOf(parent: number): Promise<number> {
  let found: number | undefined;
  const look = (): boolean => {
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(fields[1]) === parent && fields[0] !== 'Z' && fs.readFileSync(`/proc/${entry}/environ`, 'latin1').includes('LLMASS_TICKET=')) found = Number(entry);
      } catch {
        // ended meanwhile
      }
    }
    return found !== undefined;
  };
  expect(await until(look, 5000)).toBe(true);
  return found ?? -1;
}

/** What a command reports of its shell: its parent, and every open descriptor that is a socket. */
const SHELL_FACTS = 'echo "parent $PPID"; for f in /proc/$$/fd/*; do t=$(readlink "$f"); case $t in socket:*) echo "$t";; esac; done';

/** The sockets a process holds open, as /proc names them (`socket:[inode]`). */
function socketsOf(pid: number): string[] {
  return fs
    .readdirSync(`/proc/${pid}/fd`)
    .map((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((target) => target.startsWith('socket:'));
}

describe('the spawner process', () => {
  it('forks the shells started ahead: commands back to back and agent-paced run in them, with no descriptor of the server or the spawner', async () => {
    const server = await startServer();
    const first = await run(server, SHELL_FACTS, { session: 'sp' });
    // A session's first command has no shell started ahead: the server forks it itself.
    expect(first.output).toContain(`parent ${server.proc.pid}\n`);
    const spawnerPid = await spawner(server);
    expect(fs.readFileSync(`/proc/${spawnerPid}/cmdline`, 'utf8')).toContain('spawnerProcess.cjs');
    const parents: number[] = [];
    for (let i = 0; i < 20; i += 1) {
      // Back to back for the first ten, then agent-paced (the next command 150 ms after the last answer).
      if (i >= 10) await new Promise((resolve) => setTimeout(resolve, 150));
      const answer = await server.get(server.url('/shell', { session: 'sp', cmd: SHELL_FACTS, wait: 10, nonce: i }));
      expect(answer.json.status, answer.text).toBe('done');
      const output = String(answer.json.output);
      parents.push(Number(/^parent (\d+)$/m.exec(output)?.[1]));
      // Its output pipes and the prelude's channel, no other socket: not the spawner's IPC channel, nothing of the server's.
      const sockets = output.match(/^socket:\[\d+\]$/gm) ?? [];
      expect(sockets).toHaveLength(3);
      const held = new Set([...socketsOf(spawnerPid), ...socketsOf(server.proc.pid)]);
      expect(sockets.filter((socket) => held.has(socket))).toEqual([]);
    }
    // Every paced command, and most back to back (one that comes before its shell was asked for starts its own).
    expect(parents.slice(10).every((parent) => parent === spawnerPid)).toBe(true);
    expect(parents.filter((parent) => parent === spawnerPid).length).toBeGreaterThanOrEqual(17);
    const metrics = (await server.get(server.url('/metrics'))).text;
    expect(Number(/^llmass_ready_shells_unusable_total (\d+)$/m.exec(metrics)?.[1])).toBe(0);
    expect(spawnerOf(server)).toBe(spawnerPid);
  });

  it('killed while a shell waits: the shell is ended, the next command runs in a shell of its own, and a new spawner starts the next', async () => {
    const server = await startServer();
    await run(server, 'true', { session: 'k' });
    const first = await spawner(server);
    const waiting = await readyShellOf(first);
    process.kill(first, 'SIGKILL');
    // Nobody would see that shell exit any more: the server ends it.
    expect(await until(() => !processRunning(waiting), 5000)).toBe(true);
    const next = await run(server, 'echo "parent $PPID"', { session: 'k' });
    expect(next.status, JSON.stringify(next)).toBe('done');
    expect(next.output).toBe(`parent ${server.proc.pid}\n`);
    const second = await spawner(server);
    expect(second).not.toBe(first);
    await readyShellOf(second);
    const after = await run(server, 'echo "parent $PPID"', { session: 'k', nonce: 'after' });
    expect(after.output).toBe(`parent ${second}\n`);
    const metrics = (await server.get(server.url('/metrics'))).text;
    expect(metrics).toMatch(/^llmass_spawner_starts_total 2$/m);
  });

  it('starts the shell of a ticket queued behind a running one as soon as that one\'s shell exits, tracked under the waiting ticket\'s id', async () => {
    const server = await startServer();
    await run(server, 'true', { session: 'q' });
    const spawnerPid = await spawner(server);
    const first = (await server.get(server.url('/shell', { session: 'q', cmd: 'sleep 0.3; echo first' }))).json;
    const queued = (await server.get(server.url('/shell', { session: 'q', cmd: 'echo "parent $PPID marker $LLMASS_TICKET"' }))).json;
    const results = [await waitFinal(server, 'q', first.ticket), await waitFinal(server, 'q', queued.ticket)];
    expect(results.map((r) => r.status)).toEqual(['done', 'done']);
    const marker = JSON.parse(fs.readFileSync(path.join(server.sessionsDir, 'q', `${queued.ticket}.ticket`), 'utf8')).process_marker;
    expect(results[1]?.output).toBe(`parent ${spawnerPid} marker ${marker}\n`);
    // Started after the first ended, not before.
    expect(Date.parse(results[1]?.started_at)).toBeGreaterThanOrEqual(Date.parse(results[0]?.finished_at));
  });

  it('killed while a command runs in a shell it started: the ticket ends interrupted, saying why, and its processes are ended', async () => {
    const server = await startServer();
    await run(server, 'true', { session: 'cut' });
    const spawnerPid = await spawner(server);
    await readyShellOf(spawnerPid);
    const submitted = (await server.get(server.url('/shell', { session: 'cut', cmd: 'sleep 100 & echo "bg $!"; echo "parent $PPID"; sleep 100' }))).json;
    let output = '';
    expect(
      await until(async () => {
        output = String((await server.get(server.url('/callback', { session: 'cut', ticket: submitted.ticket }))).json.output ?? '');
        return output.includes('parent ');
      }),
    ).toBe(true);
    expect(output).toContain(`parent ${spawnerPid}\n`);
    const background = Number(/^bg (\d+)$/m.exec(output)?.[1]);
    expect(processRunning(background)).toBe(true);
    process.kill(spawnerPid, 'SIGKILL');
    const result = await waitFinal(server, 'cut', submitted.ticket);
    expect(result.status).toBe('interrupted');
    expect(result.output).toContain("[llmass: interrupted: the server's spawner process, which started this command's shell, ended while this command ran]");
    expect(processRunning(background)).toBe(false);
    // The session goes on.
    expect((await run(server, 'echo on', { session: 'cut' })).output).toBe('on\n');
  });

  it('ends with the server: at shutdown, and when the server is killed', async () => {
    const server = await startServer();
    await run(server, 'true', { session: 'end' });
    const spawnerPid = await spawner(server);
    await server.stop();
    expect(processRunning(spawnerPid)).toBe(false);

    const killed = await startServer();
    await run(killed, 'true', { session: 'end' });
    const orphan = await spawner(killed);
    killed.proc.kill('SIGKILL');
    await killed.exited;
    expect(await until(() => !processRunning(orphan), 5000)).toBe(true);
  });
});
