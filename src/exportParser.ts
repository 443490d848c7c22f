// Reads the shell state a command's bash hands back on fd 3 (see prelude.bash): the working
// directory, then each exported variable as NAME=value, NUL-separated, then an end mark. Pure;
// a state that is incomplete or malformed is refused, and the previous one stands. The agent
// can write anything there, but only into its own session's state, and the server's own
// variables (BASH_ENV and the prelude's LLMASS_ controls) are never taken from it.
export interface SavedShell {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

const END = 'llmass-state-end';
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Set by the server for each command: never carried from one command to the next. */
const SERVER_OWNED = /^(LLMASS_TICKET|LLMASS_MAX_PROCESSES|LLMASS_MAX_MEMORY_KB|LLMASS_CWD|BASH_ENV)$|^BASH_FUNC_/;

export function parseShellState(text: string): SavedShell | undefined {
  const parts = text.split('\0');
  // The text ends with a NUL after the end mark: the last part is empty.
  if (parts.length < 3 || parts.at(-1) !== '' || parts.at(-2) !== END) return undefined;
  const cwd = parts[0] ?? '';
  if (!cwd.startsWith('/')) return undefined;
  const env: Record<string, string> = {};
  for (const entry of parts.slice(1, -2)) {
    const eq = entry.indexOf('=');
    const name = entry.slice(0, eq);
    if (eq <= 0 || !NAME.test(name)) return undefined;
    if (!SERVER_OWNED.test(name)) env[name] = entry.slice(eq + 1);
  }
  return { cwd, env };
}
