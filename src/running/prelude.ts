// The prelude bash sources (BASH_ENV) before each command is installed code: src/prelude.bash,
// copied by the build next to this module (scripts/copyShellScripts.mjs), root-owned and readable by
// the command user like the rest of the code. No file of the server's is written to a shared
// temp directory, where a cleaner or another server could remove it. This module holds what the
// server says to the prelude (the go) and what it hears back (the start announcement).
import { fileURLToPath } from 'node:url';

/** Where the installed prelude is: beside the compiled server. */
export const PRELUDE_FILE = fileURLToPath(new URL('./prelude.bash', import.meta.url));

/** What the prelude writes on fd 3 once it holds the command, before running it. */
export const STARTED_LINE = Buffer.from('started\n');

/**
 * What bash is told to run (`bash -c`): the command the prelude read from the go, at the top
 * level as `-c` would run it, with the variable that held it gone first.
 */
export const RUN_HANDED_COMMAND = 'builtin eval -- "builtin unset __llmass_cmd; $__llmass_cmd"';

/** The go for a shell that sources the prelude: the command's length in bytes, then the command. */
export function goMessage(command: string): Buffer {
  const bytes = Buffer.from(command, 'utf8');
  return Buffer.concat([Buffer.from(`go ${bytes.length}\n`), bytes]);
}
