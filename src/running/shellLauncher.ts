// Starting a command's shell: through setpriv as the session's command user when confined, in the
// directory and with the variables the session's last command left, under tracking from its
// first instruction. With the prelude, the command itself comes later, with the go.
import { asCommandUser, commandLine, environmentThroughSetpriv } from './commandUser.js';
import type { TerminalSize } from '../protocol/types.js';
import { RUN_HANDED_COMMAND } from './prelude.js';
import { MARKER_VARIABLE, ProcessTracking } from './processTracking.js';
import { shellStarted, spawnShell } from './shellProcess.js';
import { Spawner, type SpawnRequest } from './spawner.js';
import type { ReadyShell, ShellAhead } from './shellsAhead.js';
import type { ShellLaunch } from './shellState.js';

/** Single-quoted for sh: nothing in it is expanded. */
function quoted(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * The shell on a pseudo-terminal: util-linux's script makes one, sets its size, and runs the
 * shell on it, passing our fd 3 through (so the prelude's go, its start announcement and the
 * shell state work as for any command) and relaying our stdin pipe to the terminal. script runs
 * its -c through $SHELL, set to /bin/sh for it (a bash there would source the prelude itself);
 * the shell gets its own SHELL back.
 */
function onTerminal(shell: string, input: string, tty: TerminalSize, ownShell: string | undefined): [string, ...string[]] {
  const restore = ownShell === undefined ? '' : `SHELL=${quoted(ownShell)} `;
  const inner = `stty cols ${tty.cols} rows ${tty.rows} 2>/dev/null; ${restore}exec ${quoted(shell)} -c ${quoted(input)}`;
  return [SCRIPT, '--quiet', '--flush', '--return', '--command', inner, '/dev/null'];
}

/** util-linux's script, beside setpriv. */
const SCRIPT = '/usr/bin/script';

export class ShellLauncher {
  constructor(
    private readonly commandShell: string,
    private readonly tracking: ProcessTracking,
    private readonly usesPrelude: boolean,
  ) {}

  private readonly spawner = new Spawner();

  /** The spawner process that starts shells ahead (spawner.ts), for its PID and restarts. */
  get spawnerProcess(): { readonly pid: number | undefined; readonly starts: number } {
    return this.spawner;
  }

  /**
   * A shell for a command, with the directory and variables `launch` gives (the session's last
   * command's); with `tty`, on a pseudo-terminal of that size (onTerminal). Forked here, on the
   * event loop: a session's first command, a terminal's, and the self-check's.
   */
  start(launch: ShellLaunch, trackingId: string, command: string, tty: TerminalSize | null = null): ReadyShell {
    const processes = this.tracking.forTicket(trackingId, true);
    try {
      const shell = spawnShell({ ...this.spec(launch, processes.id, command, tty), processes, stdin: tty === null ? 'ignore' : 'pipe' });
      return { shell, cwd: launch.cwd, note: launch.note };
    } catch (error) {
      processes.release();
      throw error;
    }
  }

  /**
   * A shell for the session's next command, started ahead in the spawner process, off the
   * event loop (spawner.ts); with the prelude only, as it waits for its go. Tracked under
   * `trackingId` (a waiting ticket's, or a new one) from now on; if it cannot be started, `ready` rejects and the caller releases the tracking.
   */
  startAhead(launch: ShellLaunch, trackingId = ProcessTracking.newId()): ShellAhead {
    const processes = this.tracking.forTicket(trackingId, true);
    // Moved into its groups by the spawner, before it is handed over.
    const spec = { ...this.spec(launch, processes.id, '', null), joins: processes.joins };
    const ready = this.spawner.spawn(spec).then((child) => ({ shell: shellStarted(spec.program, child, processes, child.refused), cwd: launch.cwd, note: launch.note }));
    return { processes, ready };
  }

  /** Ends the spawner process (shutdown, once the shells it started are gone). */
  close(): Promise<void> {
    return this.spawner.close();
  }

  /** Program, arguments, directory and environment of a command's shell, tracked under `trackingId`. */
  private spec(launch: ShellLaunch, trackingId: string, command: string, tty: TerminalSize | null): SpawnRequest {
    // With the prelude, the command comes with the go; another shell takes it as its argument.
    const input = this.usesPrelude ? RUN_HANDED_COMMAND : command;
    const { program, args } = tty === null ? commandLine(this.commandShell, input, launch.user) : asCommandUser(onTerminal(this.commandShell, input, tty, launch.env.SHELL), launch.user);
    // TERM is the terminal's on one, and dumb otherwise: a terminal's TERM kept in the session's
    // state must not reach a later command that has none.
    const env = tty === null ? { ...launch.env, TERM: 'dumb' } : { ...launch.env, SHELL: '/bin/sh', TERM: 'xterm-256color' };
    // Confined, the directory is entered by the command user (in the prelude): the server,
    // root without DAC capabilities, may not enter a private home.
    const confined = launch.user !== null;
    return {
      program,
      args,
      cwd: confined ? '/' : launch.cwd,
      env: confined ? environmentThroughSetpriv({ ...env, [MARKER_VARIABLE]: trackingId, LLMASS_CWD: launch.cwd }) : { ...env, [MARKER_VARIABLE]: trackingId },
    };
  }
}
