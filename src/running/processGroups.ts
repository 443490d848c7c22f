// Process groups, read from /proc and signalled as a whole: what the runner and start-up
// recovery both use to end every process a command started. No knowledge of tickets.
import fs from 'node:fs';
import { errorCode } from '../storage/safeFiles.js';

/** How long a process group gets between TERM and KILL. */
export const KILL_GRACE_MS = 2000;
/** After KILL, how long we wait to see the group gone before giving up on it. */
const REAP_WAIT_MS = 1000;
const CHECK_EVERY_MS = 25;

function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Whether `pid` is a process that has not ended (a zombie has). */
export function isLive(pid: number | string): boolean {
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z';
}

/** Field 22 of /proc/<pid>/stat: start time in clock ticks after boot. */
export function processStartTicks(pid: number): number | null {
  const ticks = Number(statFields(pid)?.[19]);
  return Number.isFinite(ticks) ? ticks : null;
}

/** PIDs in process group `pgid` that are not zombies, read from /proc. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (fields !== undefined && Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(Number(entry));
  }
  return members;
}

/**
 * Whether any live process is still in the group. kill(-pgid, 0) is the cheap first answer,
 * but it counts zombies, which an init that does not reap (as in some containers) keeps
 * forever; /proc tells them apart.
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    // EPERM: the group exists but is not ours to signal; anything else: it is gone.
    if (errorCode(error) !== 'EPERM') return false;
  }
  return groupMembers(pgid).length > 0;
}

/** The live members of a group, with their start times and command lines (at most 20, each cut to 200 characters). */
export function groupProcesses(pgid: number): Array<{ pid: number; started: number | null; command: string }> {
  if (!groupAlive(pgid)) return [];
  return groupMembers(pgid)
    .slice(0, 20)
    .map((pid) => ({ pid, started: processStartTicks(pid), command: commandLine(pid) }));
}

/** A process's command line, its arguments separated by spaces. */
export function commandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ').slice(0, 200);
  } catch {
    return '';
  }
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  // Never -1 (every process) or -0 (our own group): only a real group of a command.
  if (!Number.isSafeInteger(pgid) || pgid <= 1) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone, which is what we wanted.
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What, besides its process group, a ticket's processes are: see processTracking.ts. */
export interface Tracked {
  members(): number[];
  signal(signal: NodeJS.Signals): void;
}

/**
 * Ends a ticket's processes: its process group and every tracked process that left it. TERM
 * first so that commands can clean up, KILL after `graceMs` for those that do not listen (again
 * and again, for a fork bomb's newborns). Resolves once none is left (or, after KILL, once
 * REAP_WAIT_MS has passed with one still there: a process stuck in the kernel), with how many
 * are still seen then: 0 is the evidence that all ended.
 */
export async function terminateGroup(pgid: number | null, tracked?: Tracked, graceMs = KILL_GRACE_MS): Promise<number> {
  const left = (): number => Math.max(pgid !== null && groupAlive(pgid) ? groupMembers(pgid).length : 0, tracked?.members().length ?? 0);
  const alive = (): boolean => left() > 0;
  if (pgid !== null) signalGroup(pgid, 'SIGTERM');
  tracked?.signal('SIGTERM');
  // A stopped process (kill -STOP, Ctrl-Z) acts on TERM only once continued.
  if (pgid !== null) signalGroup(pgid, 'SIGCONT');
  tracked?.signal('SIGCONT');
  const killAt = Date.now() + graceMs;
  while (alive() && Date.now() < killAt) await sleep(CHECK_EVERY_MS);
  const giveUpAt = Date.now() + REAP_WAIT_MS;
  while (alive() && Date.now() < giveUpAt) {
    if (pgid !== null) signalGroup(pgid, 'SIGKILL');
    tracked?.signal('SIGKILL');
    await sleep(CHECK_EVERY_MS);
  }
  return left();
}
