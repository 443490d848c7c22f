// Session shell state without a long-lived shell: when a command's bash exits, an EXIT trap
// saves `export -p` and the working directory to a file in the session directory; before the
// session's next command, bash sources that file (through BASH_ENV) and so starts where the
// last one ended. Only bash has BASH_ENV: with another COMMAND_SHELL each command starts fresh.
import fs from 'node:fs';
import path from 'node:path';
import type { SessionLayout } from './sessionLayout.js';

const STATE_END = '# llmass-state-end';

/**
 * Sourced by bash before the command string. Builtins only, and no command substitution, so
 * it costs no fork. `exec 2>&1` makes stderr the same pipe as stdout: one stream, in the
 * order the command wrote it.
 */
export const PRELUDE = `# LLMASS prelude: sourced by bash (BASH_ENV) before each command of a session.
exec 2>&1
__llmass_state_out=$LLMASS_STATE_OUT
__llmass_missing_dir() {
  builtin printf '[llmass: the working directory %s no longer exists; this command starts in %s]\\n' "$1" "$PWD"
}
if [ -n "$LLMASS_STATE_IN" ]; then builtin . "$LLMASS_STATE_IN" 2>/dev/null; fi
builtin unset BASH_ENV LLMASS_STATE_IN LLMASS_STATE_OUT
__llmass_save_state() {
  {
    builtin export -p
    builtin printf 'builtin cd -- %q 2>/dev/null || __llmass_missing_dir %q\\n' "$PWD" "$PWD"
    builtin printf '%s\\n' '${STATE_END}'
  } > "$__llmass_state_out" 2>/dev/null
}
builtin trap __llmass_save_state EXIT
`;

export interface ShellLaunch {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}

/** Variables every command gets on its first run, so tools do not page or colour output. */
const AGENT_FRIENDLY_ENV = { TERM: 'dumb', NO_COLOR: '1', PAGER: 'cat', GIT_PAGER: 'cat' } as const;

/** The server's environment as commands first see it: without the secret. */
export function baseCommandEnv(source: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...source, ...AGENT_FRIENDLY_ENV };
  delete env.HASH;
  delete env.BASH_ENV;
  return env;
}

export class ShellStates {
  private readonly preludePath: string;
  private readonly usesBash: boolean;

  constructor(
    private readonly layout: SessionLayout,
    private readonly shell: string,
    private readonly workdir: string,
    private readonly baseEnv: NodeJS.ProcessEnv,
  ) {
    this.preludePath = path.join(layout.privateDir(), 'prelude.bash');
    this.usesBash = path.basename(shell).includes('bash');
  }

  /**
   * Writes the prelude at start-up, unless it is already there as it should be: a server
   * restarted on a full disk then still starts.
   */
  install(): void {
    fs.mkdirSync(path.dirname(this.preludePath), { recursive: true, mode: 0o700 });
    let current: string | undefined;
    try {
      current = fs.readFileSync(this.preludePath, 'utf8');
    } catch {
      current = undefined;
    }
    if (current !== PRELUDE) fs.writeFileSync(this.preludePath, PRELUDE, { mode: 0o600 });
  }

  /** How the session's next command starts: the directory and environment the last one left. */
  launch(session: string): ShellLaunch {
    if (!this.usesBash) return { cwd: this.workdir, env: this.baseEnv };
    const saved = this.layout.stateFile(session);
    const control = { BASH_ENV: this.preludePath, LLMASS_STATE_OUT: this.layout.nextStateFile(session) };
    if (!fs.existsSync(saved)) return { cwd: this.workdir, env: { ...this.baseEnv, ...control } };
    // The saved `export -p` is the whole environment the last command ended with, unsets
    // included, so the shell gets nothing else: bash rebuilds the environment from it.
    return { cwd: this.workdir, env: { ...control, LLMASS_STATE_IN: saved } };
  }

  /**
   * After a command: keep the state its shell saved, if it saved a complete one. A few
   * kilobytes, read and renamed synchronously for the same reason as small ticket records.
   */
  capture(session: string): void {
    if (!this.usesBash) return;
    const next = this.layout.nextStateFile(session);
    let text: string;
    try {
      text = fs.readFileSync(next, 'utf8');
    } catch {
      return; // killed, or replaced itself with exec: the previous state stands
    }
    if (text.endsWith(`${STATE_END}\n`)) fs.renameSync(next, this.layout.stateFile(session));
    else fs.rmSync(next, { force: true });
  }
}
