// The runner: spawns `COMMAND_SHELL -c <cmd>` in its own process group with stdin at
// /dev/null, streams its output into an OutputSpool, and ends the whole group on a time
// limit or a request (TERM, then KILL). It knows nothing of tickets, sessions or HTTP.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { OutputSpool } from './output.js';

/** How long a process group gets between TERM and KILL. */
export const KILL_GRACE_MS = 2000;
/**
 * After the shell exits, how long we keep reading output its background children may still
 * hold the pipe open for. The ticket finishes then: `sleep 100 &` must not hold it open.
 */
const DRAIN_AFTER_EXIT_MS = 150;
/** After KILL, how long we wait to see the group gone before finishing anyway. */
const REAP_WAIT_MS = 1000;

export type StopReason = 'timeout-hard' | 'timeout-idle' | 'canceled' | 'interrupted';

export type RunOutcome =
  | { kind: 'exited'; exitCode: number | null; signal: string | null }
  | { kind: 'stopped'; reason: StopReason; exitCode: number | null; signal: string | null }
  | { kind: 'failed'; message: string };

export interface RunSpec {
  readonly shell: string;
  readonly input: string;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly timeoutMs: number;
  readonly idleTimeoutMs: number | null;
  readonly spool: OutputSpool;
}

export interface RunningCommand {
  /** The shell's PID, which is also its process group ID; undefined if it never started. */
  readonly pid: number | undefined;
  /** The shell's start time in clock ticks since boot, to recognise the group after a crash. */
  readonly startedTicks: number | null;
  /** Ends the process group (TERM, then KILL). Ignored once the shell has exited. */
  stop(reason: StopReason): void;
  readonly outcome: Promise<RunOutcome>;
}

/** Field 22 of /proc/<pid>/stat: start time in clock ticks after boot. */
export function processStartTicks(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? ticks : null;
  } catch {
    return null;
  }
}

/** PIDs in process group `pgid` that are not zombies, read from /proc. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
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
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return groupMembers(pgid).length > 0;
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone, which is what we wanted.
  }
}

export function startCommand(spec: RunSpec): RunningCommand {
  const child = spawn(spec.shell, ['-c', spec.input], {
    cwd: spec.cwd,
    env: spec.env,
    // detached puts the shell in a new session and process group (setsid), so one signal to
    // -pid reaches every process the command started, however deep.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  const startedTicks = pid === undefined ? null : processStartTicks(pid);

  let stopReason: StopReason | null = null;
  let exited = false;
  let lastOutputAt = Date.now();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const onData = (chunk: Buffer): void => {
    lastOutputAt = Date.now();
    spec.spool.append(chunk);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  const stop = (reason: StopReason): void => {
    if (exited || stopReason !== null || pid === undefined) return;
    stopReason = reason;
    // TERM first so commands can clean up; KILL after the grace for those that do not listen.
    signalGroup(pid, 'SIGTERM');
    later(KILL_GRACE_MS, () => signalGroup(pid, 'SIGKILL'));
  };

  later(spec.timeoutMs, () => stop('timeout-hard'));
  if (spec.idleTimeoutMs !== null) {
    const idleMs = spec.idleTimeoutMs;
    const checkIdle = (): void => {
      const silentFor = Date.now() - lastOutputAt;
      if (silentFor >= idleMs) stop('timeout-idle');
      else later(idleMs - silentFor, checkIdle);
    };
    later(idleMs, checkIdle);
  }

  const outcome = new Promise<RunOutcome>((resolve) => {
    child.once('error', (error) => {
      if (pid !== undefined && !exited) return; // a late error on a started child: 'exit' decides
      exited = true;
      finish();
      resolve({ kind: 'failed', message: `could not start ${spec.shell}: ${error.message}` });
    });

    child.once('exit', (code, signal) => {
      exited = true;
      void settleAfterExit().then(() => {
        finish();
        const exitCode = code;
        const signalName = signal ?? null;
        if (stopReason !== null) resolve({ kind: 'stopped', reason: stopReason, exitCode, signal: signalName });
        else resolve({ kind: 'exited', exitCode, signal: signalName });
      });
    });
  });

  /** Reads what is left in the pipes, then, if the group was being stopped, sees it gone. */
  async function settleAfterExit(): Promise<void> {
    await drainPipes();
    if (stopReason === null || pid === undefined) return;
    const deadline = Date.now() + KILL_GRACE_MS + REAP_WAIT_MS;
    while (groupAlive(pid) && Date.now() < deadline) await sleep(25);
  }

  function drainPipes(): Promise<void> {
    const streams = [child.stdout, child.stderr].filter((s): s is NonNullable<typeof s> => s !== null && !s.closed);
    if (streams.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      let open = streams.length;
      const done = (): void => {
        clearTimeout(timer);
        for (const stream of streams) {
          stream.off('close', onClose);
          stream.destroy();
        }
        resolve();
      };
      const onClose = (): void => {
        open -= 1;
        if (open === 0) done();
      };
      const timer = setTimeout(done, DRAIN_AFTER_EXIT_MS);
      for (const stream of streams) stream.once('close', onClose);
    });
  }

  function finish(): void {
    // The KILL timer must outlive the shell when we are stopping: its children may not.
    for (const timer of timers) {
      if (stopReason !== null && exited && !groupGone()) continue;
      clearTimeout(timer);
      timers.delete(timer);
    }
    child.stdout?.off('data', onData);
    child.stderr?.off('data', onData);
  }

  function groupGone(): boolean {
    return pid === undefined || !groupAlive(pid);
  }

  return {
    pid,
    startedTicks,
    stop,
    outcome,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
