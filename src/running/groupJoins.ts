// Moving a ticket's first process into its cgroups (its tracking group, processTracking.ts, and
// its limit groups, ticketLimits.ts): each is its cgroup.procs, written with the PID. The same
// list serves the server (attach) and the spawner process (spawnerProcess.cjs), which moves a
// shell it started ahead before handing it over.
import fs from 'node:fs';
import { errorCode } from '../storage/safeFiles.js';

/** A group a ticket's first process joins: its cgroup.procs, and how a refusal names the group. */
export interface GroupJoin {
  readonly procs: string;
  readonly what: string;
}

/** Why the kernel refused to move a process into a group (the same words in the spawner). */
function refusal(join: GroupJoin, error: unknown): string {
  return `the kernel refused to move it into its ${join.what} (${errorCode(error)})`;
}

/**
 * Puts `pid` in each group in order, in the thread pool (a move waits for the kernel's
 * threadgroup lock, 0.1 to 30 ms seen, which must not hold up the event loop); resolves with
 * why the kernel refused one (the rest are not tried), or null.
 */
export async function attachAll(joins: readonly GroupJoin[], pid: number): Promise<string | null> {
  for (const join of joins) {
    try {
      await fs.promises.writeFile(join.procs, String(pid));
    } catch (error) {
      return refusal(join, error);
    }
  }
  return null;
}
