// The self-check: one command run through the full path every command takes (as the command
// user, through setpriv, the prelude, the limits and tracking), and what it must hand back. It
// runs at start, before the server serves, and again whenever a ticket ends `error` because its
// command never started. Each problem is named by its step, with the fix. Success only from
// evidence: the prelude's announcement, the command's own output, a background process of the
// check seen in its tracking, and its tracking seen empty after the server ended it.
import type { OutputSink } from './outputPipes.js';
import { terminateGroup } from './processGroups.js';
import { ProcessTracking } from './processTracking.js';
import { goMessage } from './prelude.js';
import { runCommand, type StartedShell } from './shellProcess.js';

/** The steps of the path, as the operator reads them in a failure. */
export type SelfCheckStep = 'spawn' | 'prelude' | 'command' | 'user' | 'limits' | 'tracking' | 'ending';

export type SelfCheckResult = { readonly ok: true } | { readonly ok: false; readonly step: SelfCheckStep; readonly problem: string; readonly fix: string };

export interface SelfCheckDeps {
  /** Starts a shell as a session's first command would be, tracked under the id given. */
  readonly startShell: (trackingId: string, command: string) => StartedShell;
  /** Whether the shell sources the prelude (bash): the limits and the announcement come from it. */
  readonly usesPrelude: boolean;
  readonly preludeFile: string;
  /** Who the command must run as, and the limits it must have. */
  readonly expected: { readonly user: string; readonly uid: number; readonly maxProcesses: number; readonly maxMemoryKb: number };
}

const CHECK_TIMEOUT_MS = 10_000;
const OUTPUT_LIMIT = 64 * 1024;

/**
 * The check's output, kept in memory (a few lines): the check must not depend on room on the
 * sessions disk, which recovery and the operator may need to make first.
 */
class CheckOutput implements OutputSink {
  private readonly parts: Buffer[] = [];
  private bytes = 0;

  append(chunk: Buffer): void {
    if (this.bytes >= OUTPUT_LIMIT) return;
    this.parts.push(chunk);
    this.bytes += chunk.length;
  }

  endInput(): void {}

  text(): string {
    return Buffer.concat(this.parts).toString('utf8');
  }
}

/** What the check runs: who it is, its limits, and a background process for the server to find and end. */
const CHECK_COMMAND = 'echo "uid $(id -u)"; echo "processes $(ulimit -u)"; echo "memory $(ulimit -v)"; sleep 60 & echo "background $!"';

function fail(step: SelfCheckStep, problem: string, fix: string): SelfCheckResult {
  return { ok: false, step, problem, fix };
}

/** The value after `name ` on a line of the check's output. */
function field(output: string, name: string): string | undefined {
  return new RegExp(`^${name} (\\S+)$`, 'm').exec(output)?.[1];
}

export async function runSelfCheck(deps: SelfCheckDeps): Promise<SelfCheckResult> {
  const { expected } = deps;
  let shell: StartedShell;
  try {
    shell = deps.startShell(ProcessTracking.newId(), CHECK_COMMAND);
  } catch (error) {
    return fail('spawn', `the command's shell could not be started: ${String(error)}`, 'check COMMAND_SHELL and, with COMMAND_USER, that /usr/bin/setpriv exists (Debian: apt-get install util-linux)');
  }
  const spool = new CheckOutput();
  try {
    const command = runCommand(shell, {
      go: goMessage(deps.usesPrelude ? CHECK_COMMAND : ''),
      timeoutMs: CHECK_TIMEOUT_MS,
      idleTimeoutMs: null,
      spool,
      maxStateBytes: 256 * 1024,
      announces: deps.usesPrelude,
    });
    const outcome = await command.outcome;
    const output = spool.text();
    const said = output.trim().slice(0, 500) || '(nothing)';
    if (outcome.kind === 'failed' && shell.tracking.refused !== null) {
      return fail('tracking', outcome.message, 'the server must be able to move processes into the cgroups it makes (systemd: Delegate=yes), or run where no cgroup v2 hierarchy is mounted');
    }
    if (outcome.kind === 'failed') return fail('spawn', outcome.message, 'check COMMAND_SHELL and, with COMMAND_USER, /usr/bin/setpriv');
    if (outcome.kind === 'never-started') {
      return fail(
        'prelude',
        `the shell exited before the prelude ${deps.preludeFile} took the command; it said: ${said}`,
        `make the prelude readable by ${expected.user}: the file mode 0644 and every directory above it searchable (chmod a+rX, or \`npm run build\`, which sets dist/ to 0755 and the prelude to 0644, whatever the umask), owned by root`,
      );
    }
    if (outcome.kind === 'stopped') return fail('command', `the check did not finish within ${CHECK_TIMEOUT_MS / 1000} s; it said: ${said}`, 'see what the command user\'s shell start-up files (~/.bashrc is not read; BASH_ENV is the prelude) or the host are waiting for');
    const background = Number(field(output, 'background'));
    try {
      if (outcome.exitCode !== 0) return fail('command', `the check exited with code ${outcome.exitCode ?? outcome.signal}; it said: ${said}`, `run \`id; ulimit -a\` as ${expected.user} to see what fails`);
      if (field(output, 'uid') !== String(expected.uid)) return fail('user', `the check ran as uid ${field(output, 'uid') ?? '?'}, not ${expected.uid} (${expected.user}); it said: ${said}`, 'check COMMAND_USER and that the server starts as root with CAP_SETUID and CAP_SETGID');
      if (deps.usesPrelude) {
        const limits = `processes ${field(output, 'processes') ?? '?'}, memory ${field(output, 'memory') ?? '?'} KiB`;
        if (field(output, 'processes') !== String(expected.maxProcesses) || field(output, 'memory') !== String(expected.maxMemoryKb)) {
          return fail('limits', `the check's limits were ${limits}, not ${expected.maxProcesses} and ${expected.maxMemoryKb}`, 'COMMAND_MAX_PROCESSES and COMMAND_MAX_MEMORY must not exceed the limits the server itself runs under (ulimit -u, ulimit -v)');
        }
      }
      if (!Number.isSafeInteger(background) || background <= 1) return fail('command', `the check did not report its background process; it said: ${said}`, 'see the output');
      if (!shell.processes.members().includes(background)) {
        return fail(
          'tracking',
          `the server cannot see its commands' processes: the check's background process ${background} is not in its tracking (${shell.processes.kind})`,
          'delegate a cgroup v2 subtree to the service (systemd: Delegate=yes), so that tracking reads cgroup.procs; without cgroups the server must see the command user\'s /proc entries (no ProtectProc=invisible, no hidepid)',
        );
      }
      await terminateGroup(shell.pid ?? null, shell.processes);
      // Ended means out of its tracking (a zombie that no init reaps has left its cgroup too).
      if (shell.processes.members().length > 0) {
        return fail('ending', `the server could not end the check's background process ${background}`, 'the server needs CAP_KILL (the unit\'s CapabilityBoundingSet) and, for cgroup.kill, its delegated cgroup');
      }
      return { ok: true };
    } finally {
      if (shell.processes.members().length > 0) await terminateGroup(shell.pid ?? null, shell.processes);
    }
  } finally {
    shell.processes.release();
  }
}

/** A failure as one line for the log and the start-up error. */
export function describeFailure(result: Extract<SelfCheckResult, { ok: false }>): string {
  return `self-check failed at step "${result.step}": ${result.problem}. Fix: ${result.fix}`;
}
