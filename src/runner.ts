// The runner: spawns `COMMAND_SHELL -c <cmd>` in its own process group with stdin at
// /dev/null, hands its output to capture.ts, and ends the whole group on a time limit or a
// request (processGroup.ts). It knows nothing of tickets, sessions or HTTP.
import { spawn } from 'node:child_process';
import { captureOutput } from './capture.js';
import type { OutputSpool } from './output.js';
import { groupProcesses, processStartTicks, terminateGroup } from './processGroup.js';
import type { BackgroundProcess } from './protocol.js';

export type StopReason = 'timeout-hard' | 'timeout-idle' | 'canceled' | 'interrupted';

export type RunOutcome =
  | { kind: 'exited'; exitCode: number | null; signal: string | null; background: BackgroundProcess[] }
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
  /** True once the shell has exited: stop() can change nothing any more. */
  readonly exited: boolean;
  readonly outcome: Promise<RunOutcome>;
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
  const capture = captureOutput(child, spec.spool);

  let stopReason: StopReason | null = null;
  let terminated: Promise<void> = Promise.resolve();
  let exited = false;
  const timers: NodeJS.Timeout[] = [];

  const stop = (reason: StopReason): void => {
    if (exited || stopReason !== null || pid === undefined) return;
    stopReason = reason;
    terminated = terminateGroup(pid);
  };

  timers.push(setTimeout(() => stop('timeout-hard'), spec.timeoutMs));
  if (spec.idleTimeoutMs !== null) {
    const idleMs = spec.idleTimeoutMs;
    const checkIdle = (): void => {
      const silentFor = Date.now() - capture.lastOutputAt();
      if (silentFor >= idleMs) stop('timeout-idle');
      else timers.push(setTimeout(checkIdle, idleMs - silentFor));
    };
    timers.push(setTimeout(checkIdle, idleMs));
  }

  const outcome = new Promise<RunOutcome>((resolve) => {
    child.once('error', (error) => {
      if (pid !== undefined && !exited) return; // a late error on a started child: 'exit' decides
      exited = true;
      for (const timer of timers) clearTimeout(timer);
      void capture.finish().then(() => resolve({ kind: 'failed', message: `could not start ${spec.shell}: ${error.message}` }));
    });

    child.once('exit', (code, signal) => {
      exited = true;
      for (const timer of timers) clearTimeout(timer);
      // When stopping, the group's other members may outlive the shell: see them gone too.
      void Promise.all([capture.finish(), terminated]).then(() => {
        const exitCode = code;
        const signalName = signal ?? null;
        if (stopReason !== null) resolve({ kind: 'stopped', reason: stopReason, exitCode, signal: signalName });
        // What the command left running on purpose (`server &`, nohup): named in its answer.
        else resolve({ kind: 'exited', exitCode, signal: signalName, background: pid === undefined ? [] : groupProcesses(pid) });
      });
    });
  });

  return {
    pid,
    startedTicks,
    stop,
    get exited() {
      return exited;
    },
    outcome,
  };
}
