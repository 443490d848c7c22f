// The runner: spawns a shell (through setpriv when confined) in its own process group with
// stdin at /dev/null and fd 3 to talk to the prelude, puts it under tracking before anything may
// run (the prelude waits for the go on fd 3), then hands it its command with the go, its output
// to outputPipes.ts, and ends all its processes on a time limit or a request (processGroups.ts).
// It knows nothing of tickets, sessions or HTTP.
import { spawn, type ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import { captureOutput, type OutputSink } from './outputPipes.js';
import { commandLine, groupProcesses, processStartTicks, signalGroup, terminateGroup } from './processGroups.js';
import type { TicketProcesses } from './processTracking.js';
import type { BackgroundProcess } from '../protocol/types.js';

export type StopReason = 'timeout-hard' | 'timeout-idle' | 'canceled' | 'interrupted';

export type RunOutcome =
  | { kind: 'exited'; exitCode: number | null; signal: string | null; background: BackgroundProcess[]; state: Buffer }
  /** The shell exited without the prelude saying it took the command: nothing is known to have run. */
  | { kind: 'never-started'; exitCode: number | null; signal: string | null }
  /**
   * `survivors`: processes still seen after TERM, KILL and the wait (stuck in the kernel); 0 when all ended.
   * `cause`: why it was interrupted, when that was not the server stopping.
   */
  | { kind: 'stopped'; reason: StopReason; exitCode: number | null; signal: string | null; state: Buffer; survivors: number; cause?: string }
  | { kind: 'failed'; message: string };

/** How a shell is started: program, arguments, directory, environment, and its tracking. */
export interface ShellSpec {
  readonly program: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly processes: TicketProcesses;
  /** `pipe` for a command on a terminal (its input, through script); else /dev/null. */
  readonly stdin?: 'ignore' | 'pipe';
}

/**
 * What the runner needs of a shell's process: a child of ours (spawnShell), or one the spawner
 * started (spawner.ts), whose exit is `lost` if the spawner ended first.
 */
export interface ShellChild {
  readonly pid?: number | undefined;
  readonly stdin: ChildProcess['stdin'];
  readonly stdout: ChildProcess['stdout'];
  readonly stderr: ChildProcess['stderr'];
  readonly stdio: ChildProcess['stdio'];
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  /** Why the shell's exit was not seen (it was KILLed then); undefined for a child of ours. */
  readonly lost?: string | undefined;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  once(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
}

/** A shell spawned and tracked, waiting (in the prelude) for the go that hands it its command. */
export interface StartedShell {
  readonly program: string;
  readonly child: ShellChild;
  /** The shell's PID, which is also its process group ID; undefined if it never started. */
  readonly pid: number | undefined;
  /** The shell's start time in clock ticks since boot, to recognise the group after a crash. */
  readonly startedTicks: number | null;
  readonly processes: TicketProcesses;
  /** Whether the shell is under tracking yet (attach); its go waits for that. */
  readonly tracking: ShellTracking;
}

export interface ShellTracking {
  /** Resolves once the shell is under tracking, or with why it could not be (then nothing may run). */
  readonly settled: Promise<string | null>;
  readonly done: boolean;
  /** Set when settled: why the shell could not be put under tracking, or null. */
  readonly refused: string | null;
}

export interface RunSpec {
  /** What goes to the shell on fd 3 once its output is captured: the go (prelude.ts). */
  readonly go: Buffer;
  readonly timeoutMs: number;
  readonly idleTimeoutMs: number | null;
  readonly spool: OutputSink;
  readonly maxStateBytes: number;
  /**
   * Whether the shell sources the prelude, which announces on fd 3 that it took the command: a
   * shell that exits without that announcement ran nothing (never-started). Other shells give no
   * such evidence; their start is the exec itself.
   */
  readonly announces: boolean;
}

export interface RunningCommand {
  /** The shell's PID, which is also its process group ID; undefined if it never started. */
  readonly pid: number | undefined;
  /** The shell's start time in clock ticks since boot, to recognise the group after a crash. */
  readonly startedTicks: number | null;
  /** Ends every process of the command (TERM, then KILL). Ignored once the shell has exited. */
  stop(reason: StopReason): void;
  /** True once the shell has exited: stop() can change nothing any more. */
  readonly exited: boolean;
  readonly outcome: Promise<RunOutcome>;
}

/**
 * Spawns a shell in its own process group (detached: setsid, so one signal to -pid reaches
 * every process that stays in it), stdin at /dev/null and fd 3 to talk to the prelude, and puts
 * it under tracking. Nothing runs until runCommand() sends the go.
 */
export function spawnShell(spec: ShellSpec): StartedShell {
  const child = spawn(spec.program, spec.args, {
    cwd: spec.cwd,
    env: spec.env,
    detached: true,
    stdio: [spec.stdin ?? 'ignore', 'pipe', 'pipe', 'pipe'],
  });
  // A terminal's input that nobody reads any more (the program ended): nothing to report.
  child.stdin?.on('error', () => undefined);
  return shellStarted(spec.program, child, spec.processes);
}

/**
 * A shell that runs (here or in the spawner), put under tracking; `attached`, when the spawner
 * has already moved it into its groups (null) or could not (why).
 */
export function shellStarted(program: string, child: ShellChild, processes: TicketProcesses, attached?: string | null): StartedShell {
  // A shell that exits without reading its go, or closes fd 3: nothing to report.
  child.stdio[3]?.on('error', () => undefined);
  const pid = child.pid;
  return {
    program,
    child,
    pid,
    startedTicks: pid === undefined ? null : processStartTicks(pid),
    processes,
    tracking: pid === undefined ? settledTracking(null) : attached !== undefined ? settledTracking(attached) : track(processes, pid),
  };
}

function settledTracking(refused: string | null): ShellTracking {
  return { settled: Promise.resolve(refused), done: true, refused };
}

/** Starts putting the shell under tracking: `done` once it is (a shell started ahead is, long before its go). */
function track(processes: TicketProcesses, pid: number): ShellTracking {
  const tracking: { done: boolean; refused: string | null; settled: Promise<string | null> } = {
    done: false,
    refused: null,
    settled: processes.attach(pid).then((refused) => {
      tracking.done = true;
      tracking.refused = refused;
      return refused;
    }),
  };
  return tracking;
}

/** Captures the shell's output, sends the go, and ends the command on its time limits or stop(). */
export function runCommand(shell: StartedShell, spec: RunSpec): RunningCommand {
  const { child, pid, startedTicks } = shell;
  const capture = captureOutput(child, spec.spool, spec.maxStateBytes);
  let stopReason: StopReason | null = null;
  let terminated: Promise<number> = Promise.resolve(0);
  let exited = false;
  const timers: NodeJS.Timeout[] = [];

  const control = child.stdio[3];
  if (pid !== undefined && control instanceof Writable) {
    // The go: the command runs only now, tracked and with its output captured. A shell that
    // could not be tracked is ended without it: cancel and time limits could not reach all of
    // what its command would start.
    const go = (refused: string | null): void => {
      if (refused !== null) {
        signalGroup(pid, 'SIGKILL');
        return;
      }
      if (!exited && stopReason === null) control.write(spec.go);
    };
    if (shell.tracking.done) go(shell.tracking.refused);
    else void shell.tracking.settled.then(go);
  }

  const stop = (reason: StopReason): void => {
    if (exited || stopReason !== null || pid === undefined) return;
    stopReason = reason;
    terminated = terminateGroup(pid, shell.processes);
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
    child.once('error', (error: Error) => {
      if (pid !== undefined && !exited) return; // a late error on a started child: 'exit' decides
      exited = true;
      for (const timer of timers) clearTimeout(timer);
      void capture.finish().then(() => resolve({ kind: 'failed', message: `could not start ${shell.program}: ${error.message}` }));
    });

    child.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
      exited = true;
      for (const timer of timers) clearTimeout(timer);
      // The spawner that started the shell ended, and the shell with it (spawner.ts): the
      // command was cut off, as by a restart, and its other processes are ended too.
      if (child.lost !== undefined && stopReason === null) {
        stopReason = 'interrupted';
        terminated = terminateGroup(pid ?? null, shell.processes);
      }
      // When stopping, the command's other processes may outlive the shell: see them gone too.
      void Promise.all([capture.finish(), terminated]).then(([, survivors]) => {
        const exitCode = code;
        const signalName = signal ?? null;
        const state = capture.state();
        const refused = shell.tracking.refused;
        if (refused !== null) resolve({ kind: 'failed', message: `the command was not run: its shell could not be put under tracking (${refused})` });
        else if (stopReason !== null) resolve({ kind: 'stopped', reason: stopReason, exitCode, signal: signalName, state, survivors, ...(child.lost === undefined ? {} : { cause: child.lost }) });
        else if (spec.announces && !capture.started()) resolve({ kind: 'never-started', exitCode, signal: signalName });
        // What the command left running on purpose (`server &`, nohup): named in its answer.
        else resolve({ kind: 'exited', exitCode, signal: signalName, background: backgroundOf(pid, shell.processes), state });
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

/** The processes still running after the shell exited: its group's, and any that left it. */
function backgroundOf(pid: number | undefined, processes: TicketProcesses): BackgroundProcess[] {
  const members = processes.members();
  // A ticket's cgroup holds every process its shell started, its process group's too: when it
  // is empty, nothing was left, and the group need not be asked (whose kill(-pgid, 0) throws
  // when it is gone: about 0.1 ms on every answer).
  if (processes.kind === 'cgroup' && members.length === 0) return [];
  const inGroup = pid === undefined ? [] : groupProcesses(pid);
  const known = new Set(inGroup.map((p) => p.pid));
  const others = members
    .filter((member) => !known.has(member))
    .slice(0, Math.max(0, 20 - inGroup.length));
  return [...inGroup, ...others.map((member) => ({ pid: member, started: processStartTicks(member), command: commandLine(member) }))];
}
