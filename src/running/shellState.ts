// Session shell state without a long-lived shell and without a file the agent can write: when
// a command's bash exits, the prelude (prelude.ts, sourced through BASH_ENV) hands its working directory and exported variables back to the server on fd 3.
// The server keeps them (in memory, and in a private file for restarts) and starts the
// session's next command with them: that directory as its cwd, those variables as its
// environment. Only bash has BASH_ENV: with another COMMAND_SHELL each command starts fresh.
import fs from 'node:fs';
import { isCarriedVariable, parseShellState, type SavedShell } from './exportParser.js';
import { isDirectory, openRegularSync } from '../storage/safeFiles.js';
import type { SessionLayout } from '../storage/sessionLayout.js';
import type { CommandUser } from './commandUser.js';

/** A state larger than this is not kept (the previous one stands). */
export const MAX_STATE_BYTES = 256 * 1024;

export interface ShellLaunch {
  /** Who the shell runs as: the session's command user (null: the server's own user). */
  readonly user: CommandUser | null;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** Said in the command's output before anything else (the saved directory was gone). */
  readonly note?: string;
}

export interface CommandLimits {
  readonly maxProcesses: number;
  readonly maxMemoryBytes: number;
}

export class ShellStates {
  /** Whether commands start through the prelude (bash): it takes the command with the go and keeps state. */
  readonly usesPrelude: boolean;
  private readonly states = new Map<string, SavedShell>();

  constructor(
    private readonly layout: SessionLayout,
    shell: string,
    /** The installed prelude's path (prelude.ts). */
    private readonly preludeFile: string,
    /** Where a session's first command starts, for its user. */
    private readonly workdirOf: (user: CommandUser | null) => string,
    /** The environment of a session's first command, for its user. */
    private readonly baseEnvOf: (user: CommandUser | null) => Readonly<Record<string, string>>,
    /** The session's command user (its owner's); throws when it cannot run commands. */
    private readonly userOf: (session: string) => CommandUser | null,
    private readonly limits: CommandLimits,
    private readonly onError: (message: string, error: unknown) => void,
  ) {
    this.usesPrelude = shell.endsWith('bash');
  }

  /** The control variables the prelude reads: they never reach the command itself. */
  private control(): Record<string, string> {
    return {
      BASH_ENV: this.preludeFile,
      LLMASS_MAX_PROCESSES: String(this.limits.maxProcesses),
      LLMASS_MAX_MEMORY_KB: String(Math.floor(this.limits.maxMemoryBytes / 1024)),
    };
  }

  /** How a session of `user` starts its first command: WORKDIR (or the user's home) and the first environment. */
  firstLaunch(user: CommandUser | null): ShellLaunch {
    const env = this.baseEnvOf(user);
    return { user, cwd: this.workdirOf(user), env: this.usesPrelude ? { ...env, ...this.control() } : { ...env } };
  }

  /** How the session's next command starts: as its user, in the directory and with the environment the last one left. */
  launch(session: string): ShellLaunch {
    const user = this.userOf(session);
    if (!this.usesPrelude) return this.firstLaunch(user);
    const saved = this.load(session);
    if (saved === undefined) return this.firstLaunch(user);
    const env = { ...saved.env, ...this.control() };
    if (isDirectory(saved.cwd)) return { user, cwd: saved.cwd, env };
    const workdir = this.workdirOf(user);
    return {
      user,
      cwd: workdir,
      env,
      note: `[llmass: the working directory ${saved.cwd} no longer exists; this command starts in ${workdir}]\n`,
    };
  }

  /** The session's working directory as its last command left it (its first: WORKDIR, or its user's home). */
  cwdOf(session: string): string {
    const workdir = this.workdirOf(this.userOf(session));
    if (!this.usesPrelude) return workdir;
    return this.load(session)?.cwd ?? workdir;
  }

  /** After a command: keep the state its shell handed back, if it is complete. */
  capture(session: string, text: Buffer): void {
    if (!this.usesPrelude) return;
    const state = parseShellState(text);
    if (state === undefined) return; // killed, or replaced itself with exec: the previous state stands
    const before = this.states.get(session);
    this.states.set(session, state);
    if (before !== undefined && sameState(before, state)) return;
    try {
      this.persist(session, state);
    } catch (error) {
      this.onError('keeping the shell state on disk failed (it is kept in memory)', error);
    }
  }

  private persist(session: string, state: SavedShell): void {
    const file = this.layout.stateFile(session);
    const tmp = `${file}.next`;
    fs.writeFileSync(tmp, JSON.stringify(state), { mode: 0o600, flag: 'w' });
    fs.renameSync(tmp, file);
  }

  /** The session's state: from memory, or after a restart from its private file, checked. */
  private load(session: string): SavedShell | undefined {
    const known = this.states.get(session);
    if (known !== undefined) return known;
    let fd: number;
    try {
      fd = openRegularSync(this.layout.stateFile(session));
    } catch {
      return undefined;
    }
    try {
      if (fs.fstatSync(fd).size > MAX_STATE_BYTES * 2) return undefined;
      const value: unknown = JSON.parse(fs.readFileSync(fd, 'utf8'));
      const state = checkedState(value);
      if (state !== undefined) this.states.set(session, state);
      return state;
    } catch {
      return undefined;
    } finally {
      fs.closeSync(fd);
    }
  }
}

function checkedState(value: unknown): SavedShell | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { cwd, env } = value as { cwd?: unknown; env?: unknown };
  if (typeof cwd !== 'string' || env === null || typeof env !== 'object') return undefined;
  const checked: Record<string, string> = {};
  for (const [name, item] of Object.entries(env)) {
    if (typeof item !== 'string' || !isCarriedVariable(name)) return undefined;
    checked[name] = item;
  }
  return { cwd, env: checked };
}

function sameState(a: SavedShell, b: SavedShell): boolean {
  if (a.cwd !== b.cwd) return false;
  const keys = Object.keys(a.env);
  return keys.length === Object.keys(b.env).length && keys.every((key) => a.env[key] === b.env[key]);
}
