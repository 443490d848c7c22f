// Finding a ticket's processes without cgroups: the environment marker, on real processes that
// leave their process group; and the cgroup way, where the host allows it (root here).
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { MARKER_VARIABLE, ProcessTracking } from '../src/running/processTracking.js';
import { TicketLimits } from '../src/running/ticketLimits.js';
import { processRunning, until } from './helpers/server.js';

const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

/** Starts a shell that leaves two sleepers behind, one in a new session; resolves with their PIDs. */
function leaveSleepers(env: NodeJS.ProcessEnv): Promise<number[]> {
  return new Promise((resolve) => {
    const child = spawn('/bin/bash', ['-c', 'setsid sleep 300 & echo $!; ( (sleep 301 & echo $!) & ); wait'], { env, detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const pids = out.trim().split('\n').filter(Boolean).map(Number);
      if (pids.length === 2) {
        started.push(...pids, child.pid ?? 0);
        resolve(pids);
      }
    });
  });
}

describe('process tracking by environment marker', () => {
  it('finds and ends the processes that carry a ticket\'s marker, and no others', async () => {
    const tracking = ProcessTracking.detect(ProcessTracking.newId(), () => undefined);
    tracking.close();
    const id = ProcessTracking.newId();
    const other = ProcessTracking.newId();
    const mine = await leaveSleepers({ PATH: process.env.PATH, [MARKER_VARIABLE]: id });
    const theirs = await leaveSleepers({ PATH: process.env.PATH, [MARKER_VARIABLE]: other });
    // A tracking with no cgroup base uses the marker: made here by asking for a ticket whose cgroup does not exist.
    const tracked = tracking.forTicket(id, false);
    expect(tracked.members()).toEqual(expect.arrayContaining(mine));
    for (const pid of theirs) expect(tracked.members()).not.toContain(pid);
    tracked.signal('SIGKILL');
    expect(await until(() => mine.every((pid) => !processRunning(pid)))).toBe(true);
    for (const pid of theirs) expect(processRunning(pid)).toBe(true);
  });
});

describe('process tracking by cgroup', () => {
  it('keeps each SESSIONS_DIR\'s ticket groups apart: one server\'s sweep never removes another\'s', () => {
    const mine = ProcessTracking.detect(ProcessTracking.scopeOf('/srv/a/sessions'), () => undefined);
    const theirs = ProcessTracking.detect(ProcessTracking.scopeOf('/srv/b/sessions'), () => undefined);
    if (mine.cgroupBase === null || theirs.cgroupBase === null) {
      process.stdout.write('processTracker.test.ts: cgroup check skipped: this host gives no cgroup v2 group to make (CI runs as root, where it does)\n');
      return;
    }
    try {
      expect(mine.cgroupBase).not.toBe(theirs.cgroupBase);
      const id = ProcessTracking.newId();
      const ticket = mine.forTicket(id, true);
      expect(ticket.kind).toBe('cgroup');
      theirs.sweep();
      expect(mine.forTicket(id, false).kind).toBe('cgroup');
      mine.sweep();
      expect(mine.forTicket(id, false).kind).toBe('marker');
    } finally {
      mine.close();
      theirs.close();
    }
  });

  it('names, in TicketLimits.basesFor, exactly the limit directories a server makes (which the tests remove after a killed one)', () => {
    const scope = ProcessTracking.scopeOf(`/srv/limits-${process.pid}/sessions`);
    const { limits, missing } = TicketLimits.detect(scope, { maxProcesses: 64, maxMemoryBytes: 2 ** 28 });
    const made = TicketLimits.basesFor(scope).filter((base) => fs.existsSync(base));
    try {
      if (limits.controllers.length === 0) {
        process.stdout.write(`processTracker.test.ts: limit groups check skipped: this host makes none (${missing.join('; ')}; CI runs as root, where it does)\n`);
        return;
      }
      expect(made).toHaveLength(limits.controllers.length);
      expect(made.map((base) => limits.controllers.find((controller) => base.includes(`/${controller}`)))).toEqual(limits.controllers);
      const group = limits.forTicket(ProcessTracking.newId());
      expect(group.joins).toHaveLength(made.length);
      for (const join of group.joins) expect(made.some((base) => join.procs.startsWith(`${base}/`)), join.procs).toBe(true);
      group.release();
    } finally {
      limits.sweep(true);
    }
    expect(TicketLimits.basesFor(scope).filter((base) => fs.existsSync(base))).toEqual([]);
  });
});
