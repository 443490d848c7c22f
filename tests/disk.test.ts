// A full sessions disk, for real: a tmpfs filled to the brim while commands run. Every answer
// is checked, and a restart compares what was answered with what was kept. Mounting needs
// root: CI runs as root; elsewhere, as another user, this test is skipped and says why.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, stopAll, tempDir, until, type TestServer } from './helpers/server.js';

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI) throw new Error('CI runs as root: the full-disk test must run there');
if (!isRoot) process.stdout.write('disk.test.ts: skipped: mounting a tmpfs needs root (CI runs it as root)\n');

const mounts: string[] = [];
afterEach(async () => {
  // Servers first (they hold files on the mount), then the mounts, then their directories.
  await stopAll();
  for (const mount of mounts.splice(0)) {
    execFileSync('umount', [mount]);
    fs.rmdirSync(mount);
  }
});

function mountTmpfs(sizeMb: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmass-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0700`, 'llmass-test', dir]);
  mounts.push(dir);
  return dir;
}

/** Writes a file until the filesystem refuses another byte. */
function fillUp(file: string): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (const size of [1 << 20, 4096, 1]) {
      const chunk = Buffer.alloc(size, 0x41);
      for (;;) {
        try {
          fs.writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
          break;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

function auditEvents(file: string): Array<{ event: string; session: string; ticket: number; status?: string }> {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

async function callback(server: TestServer, session: string, ticket: number, wait = 0) {
  const answer = await server.get(server.url('/callback', { session, ticket, wait }));
  expect(answer.status).toBe(200);
  return answer.json;
}

/** Writes a file that leaves `free` bytes free on the filesystem of `dir`. */
function leaveFree(dir: string, free: number): void {
  fs.rmSync(path.join(dir, 'filler'), { force: true });
  const stats = fs.statfsSync(dir);
  const available = stats.bavail * stats.bsize;
  fs.writeFileSync(path.join(dir, 'filler'), Buffer.alloc(Math.max(0, available - free), 0x41));
}

describe.skipIf(!isRoot)('a ticket whose output fills the sessions disk', () => {
  it('still finishes: with all of its output when its own spool makes the room, with what fits when it does not', async () => {
    const disk = mountTmpfs(24);
    const env = { SESSIONS_DIR: path.join(disk, 'sessions'), MAX_OUTPUT_BYTES: String(4 << 20), MIN_FREE_BYTES: String(1 << 20) };
    const server = await startServer({ env });
    await server.get(server.url('/shell', { session: 'fill', cmd: 'true', wait: 10 }));
    leaveFree(disk, 2.5 * (1 << 20));

    // 2 MB of output: its spool fits, then spool and record together do not; the spool goes.
    const whole = await server.get(server.url('/shell', { session: 'fill', cmd: "head -c 2000000 /dev/zero | tr '\\0' y", wait: 30 }));
    expect(whole.json).toMatchObject({ type: 'result', status: 'done', exit_code: 0, output_bytes: 2_000_000, truncated: false });
    expect(whole.json.output_dropped_bytes).toBeUndefined();

    // 1 MB of control bytes, six bytes each once in JSON: no record of all of it fits.
    leaveFree(disk, 2.5 * (1 << 20));
    const cut = await server.get(server.url('/shell', { session: 'fill', cmd: "head -c 1000000 /dev/zero | tr '\\0' '\\001'", wait: 30 }));
    expect(cut.json).toMatchObject({ type: 'result', status: 'done', exit_code: 0, output_bytes: 1_000_000, truncated: true });
    expect(cut.json.output_dropped_bytes).toBeGreaterThan(0);
    expect(cut.json.next).toMatch(/bytes in the middle of the output were not stored/);
    const stored = JSON.parse(fs.readFileSync(path.join(disk, 'sessions', 'fill', `${cut.json.ticket}.ticket`), 'utf8'));
    expect(stored.output).toMatch(/\[llmass: \d+ bytes of output were not stored: the sessions disk was full when the result was written/);

    // The session goes on, and nothing of the tickets' spools is left.
    leaveFree(disk, 2.5 * (1 << 20));
    const next = await server.get(server.url('/shell', { session: 'fill', cmd: 'echo next', wait: 10 }));
    expect(next.json).toMatchObject({ status: 'done', output: 'next\n' });
    expect(fs.readdirSync(path.join(disk, 'sessions', 'fill')).filter((name) => name.endsWith('.out'))).toEqual([]);
  });
});

describe.skipIf(!isRoot)('a full sessions disk', () => {
  it('refuses new tickets with 507, keeps running ones going, answers a result only once it is on disk', async () => {
    const disk = mountTmpfs(24);
    const dir = tempDir();
    const env = {
      SESSIONS_DIR: path.join(disk, 'sessions'),
      AUDIT_LOG: path.join(dir, 'audit.jsonl'),
      MAX_OUTPUT_BYTES: String(2 << 20),
      MIN_FREE_BYTES: String(4 << 20),
      SHUTDOWN_GRACE: '1',
    };
    const server = await startServer({ dir, env });
    const go = (name: string) => path.join(dir, name);
    const waitThenPrint = (flag: string) => `while [ ! -e ${go(flag)} ]; do sleep 0.02; done; yes 0123456789 | head -c 3000000; echo; echo finished`;
    const a = await server.get(server.url('/shell', { session: 'full', cmd: waitThenPrint('GO-A') }));
    const b = await server.get(server.url('/shell', { session: 'other', cmd: waitThenPrint('GO-B') }));
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(await until(async () => (await callback(server, 'other', 1)).status === 'running')).toBe(true);

    const filler = path.join(disk, 'filler');
    fillUp(filler);

    // No room: refused before a number is handed out, in a named session or a new one.
    const refused = await server.get(server.url('/shell', { session: 'full', cmd: 'echo never' }));
    expect(refused.status).toBe(507);
    expect(refused.json).toMatchObject({ error: expect.stringMatching(/the sessions disk is full/), hint: expect.stringMatching(/no ticket was made and nothing ran/) });
    expect(refused.headers.get('retry-after')).toBeTruthy();
    const refusedNew = await server.get(server.url('/shell', { cmd: 'echo never' }));
    expect(refusedNew.status).toBe(507);
    expect(fs.readdirSync(path.join(disk, 'sessions')).sort()).toEqual(['.llmass', 'full', 'other']);

    // The command runs on; its output stops being stored; its end cannot be stored either.
    fs.writeFileSync(go('GO-A'), '');
    expect(await until(async () => /not on disk yet/.test((await callback(server, 'full', 1)).next), 20_000)).toBe(true);
    const pending = await callback(server, 'full', 1);
    expect(pending).toMatchObject({ type: 'status', status: 'running' });
    expect(pending.next).toMatch(/the sessions disk is full/);
    const cancel = await server.get(server.url('/cancel', { session: 'full', ticket: 1 }));
    expect(cancel.status).toBe(200);
    expect(cancel.json).toMatchObject({ canceled: false, status: 'running' });
    expect(cancel.json.next).toMatch(/still being stored/);
    expect(['queued', 'running']).toContain(JSON.parse(fs.readFileSync(path.join(disk, 'sessions', 'full', '1.ticket'), 'utf8')).status);
    expect(auditEvents(env.AUDIT_LOG).filter((e) => e.event === 'ended')).toEqual([]);
    expect((await server.get('/healthz', { auth: false })).status).toBe(200);

    // Space returns: the server carries on by itself.
    fs.rmSync(filler);
    const result = await callback(server, 'full', 1, 20);
    expect(result).toMatchObject({ type: 'result', status: 'done', exit_code: 0, truncated: true, output_bytes: 3_000_010 });
    expect(result.output).toMatch(/\[llmass: output after byte \d+ was not stored: the sessions disk is full\]/);
    expect(auditEvents(env.AUDIT_LOG).filter((e) => e.event === 'ended').map((e) => `${e.session}/${e.ticket}:${e.status}`)).toEqual(['full/1:done']);
    const next = await server.get(server.url('/shell', { session: 'full', cmd: 'echo room again', wait: 10 }));
    expect(next.json).toMatchObject({ ticket: 2, status: 'done', output: 'room again\n' });

    // Full again; B's command ends, its end cannot be stored, and the server is stopped meanwhile.
    fillUp(filler);
    fs.writeFileSync(go('GO-B'), '');
    expect(await until(async () => /not on disk yet/.test((await callback(server, 'other', 1)).next), 20_000)).toBe(true);
    expect(await server.stop()).toEqual({ code: 0, signal: null });
    fs.rmSync(filler);

    // After a restart, what was answered as final reads the same; what was not is interrupted.
    const restarted = await startServer({ dir, env, hash: server.hash });
    const again = await callback(restarted, 'full', 1);
    for (const field of ['status', 'exit_code', 'output', 'output_bytes', 'truncated', 'finished_at', 'duration_ms']) {
      expect(again[field], field).toEqual(result[field]);
    }
    const interrupted = await callback(restarted, 'other', 1);
    expect(interrupted).toMatchObject({ type: 'result', status: 'interrupted' });
    expect(auditEvents(env.AUDIT_LOG).filter((e) => e.event === 'ended').map((e) => `${e.session}/${e.ticket}`)).toEqual(['full/1', 'full/2']);

    // A restart on a disk that is full to the brim still starts and serves what it has.
    await restarted.stop();
    fillUp(filler);
    const onFullDisk = await startServer({ dir, env, hash: server.hash });
    expect((await onFullDisk.get('/healthz', { auth: false })).status).toBe(200);
    expect((await callback(onFullDisk, 'full', 1)).output).toBe(result.output);
    expect((await onFullDisk.get(onFullDisk.url('/shell', { session: 'full', cmd: 'echo x' }))).status).toBe(507);
  }, 120_000);
});

describe.skipIf(!isRoot)('an agent that fills the sessions disk from its own files', () => {
  it('gets 507 itself, and the operator, in its reserve, cleans up as that agent\'s user', async () => {
    const { makeAgentUser } = await import('./helpers/agentUser.js');
    const agent = makeAgentUser('llmf');
    try {
      const disk = mountTmpfs(24);
      fs.chmodSync(disk, 0o755);
      const files = path.join(disk, 'agent');
      fs.mkdirSync(files);
      fs.chownSync(files, agent.uid, agent.uid);
      const dir = tempDir();
      const key = 'filler-key-0123456789abcdefghijklmnopqrstuvwxyz';
      fs.writeFileSync(path.join(dir, 'keys'), `filler ${key} user=${agent.name}\n`, { mode: 0o600 });
      const env = { SESSIONS_DIR: path.join(disk, 'sessions'), KEYS_FILE: path.join(dir, 'keys'), MIN_FREE_BYTES: String(4 << 20), MIN_FREE_BYTES_OPERATOR: String(1 << 20) };
      const server = await startServer({ dir, env });
      const asAgent = (cmd: string) => server.get(`/shell?hash=${key}&session=fill&wait=20&cmd=${encodeURIComponent(cmd)}`, { auth: false });
      // The agent leaves 2 MiB: below MIN_FREE_BYTES, above the operator's floor.
      const stats = fs.statfsSync(disk);
      const size = stats.bavail * stats.bsize - (2 << 20);
      const filled = await asAgent(`head -c ${size} /dev/zero > ${files}/fill && echo filled`);
      expect(filled.json).toMatchObject({ status: 'done', output: 'filled\n' });
      const refused = await asAgent(`rm ${files}/fill`);
      expect(refused.status).toBe(507);
      expect(fs.existsSync(path.join(files, 'fill'))).toBe(true);
      // The operator runs in the agent's session, so as the agent's user: its file is removable.
      const cleaned = await server.get(server.url('/shell', { session: 'fill', wait: 20, cmd: `id -u; rm ${files}/fill && echo cleaned` }));
      expect(cleaned.json).toMatchObject({ status: 'done', output: `${agent.uid}\ncleaned\n` });
      expect((await asAgent('echo back')).json).toMatchObject({ status: 'done', output: 'back\n' });
      await server.stop();
    } finally {
      await agent.remove();
    }
  });
});
