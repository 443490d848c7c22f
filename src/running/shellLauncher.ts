// Starting a command's shell: through setpriv as the command user when confined, in the
// directory and with the variables the session's last command left, under tracking from its
// first instruction. With the prelude, the command itself comes later, with the go.
import { commandLine, environmentThroughSetpriv, type CommandUser } from './commandUser.js';
import { RUN_HANDED_COMMAND } from './prelude.js';
import { MARKER_VARIABLE, type ProcessTracking } from './processTracking.js';
import { spawnShell } from './shellProcess.js';
import type { ReadyShell } from './shellsAhead.js';
import type { ShellLaunch } from './shellState.js';

export class ShellLauncher {
  constructor(
    private readonly commandShell: string,
    private readonly commandUser: CommandUser | null,
    private readonly tracking: ProcessTracking,
    private readonly usesPrelude: boolean,
  ) {}

  /** A shell for a command, with the directory and variables `launch` gives (the session's last command's). */
  start(launch: ShellLaunch, trackingId: string, command: string): ReadyShell {
    const processes = this.tracking.forTicket(trackingId, true);
    try {
      // With the prelude, the command comes with the go; another shell takes it as its argument.
      const input = this.usesPrelude ? RUN_HANDED_COMMAND : command;
      const { program, args } = commandLine(this.commandShell, input, this.commandUser);
      // Confined, the directory is entered by the command user (in the prelude): the server,
      // root without DAC capabilities, may not enter a private home.
      const confined = this.commandUser !== null;
      const shell = spawnShell({
        program,
        args,
        cwd: confined ? '/' : launch.cwd,
        env: confined
          ? environmentThroughSetpriv({ ...launch.env, [MARKER_VARIABLE]: processes.id, LLMASS_CWD: launch.cwd })
          : { ...launch.env, [MARKER_VARIABLE]: processes.id },
        processes,
      });
      return { shell, cwd: launch.cwd, note: launch.note };
    } catch (error) {
      processes.release();
      throw error;
    }
  }
}
