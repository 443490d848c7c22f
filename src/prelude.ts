// The prelude bash sources (BASH_ENV) before each command. The server writes it at start, as
// root-owned read-only text in a fresh directory of its own that every user can read: the
// command user must read it, and nobody but the server can change it, so nothing the agent can
// write is ever sourced. It merges stderr into stdout, applies the limits and sets the EXIT trap,
// then waits for the server's go on fd 3, which carries the command: the shell may be started
// before the command is known (warmShells.ts), and whatever can be done before it is. On exit
// it hands the shell state back on fd 3: the working directory and a NUL, then `export -p`, then
// an end line. Builtins only: no fork (exportParser.ts reads it).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const PRELUDE = `# LLMASS prelude: sourced by bash before each command (written by the server; see its src/prelude.ts).
exec 2>&1
exec {__llmass_state}>&3 3>&-
builtin ulimit -u "\${LLMASS_MAX_PROCESSES:-unlimited}" 2>/dev/null
builtin ulimit -v "\${LLMASS_MAX_MEMORY_KB:-unlimited}" 2>/dev/null
# The kernel's OOM killer takes a command before the server (raising one's own score needs no privilege).
builtin printf '500\\n' > /proc/self/oom_score_adj 2>/dev/null
# Entered as the command user: the server (root without DAC capabilities) may not enter its home.
if [ -n "\${LLMASS_CWD-}" ]; then builtin cd -- "$LLMASS_CWD" 2>/dev/null || builtin printf '[llmass: cannot enter %s]\\n' "$LLMASS_CWD"; fi
# Loader variables (LD_PRELOAD …) cross setpriv under another name, so that root's setpriv ignores
# them; here, as the command user, they get their names back.
for __llmass_v in \${!LLMASS_KEEP_*}; do builtin export "\${__llmass_v#LLMASS_KEEP_}=\${!__llmass_v}"; builtin unset "$__llmass_v"; done
builtin unset BASH_ENV LLMASS_MAX_PROCESSES LLMASS_MAX_MEMORY_KB LLMASS_CWD __llmass_v
__llmass_save_state() {
  { builtin printf '%s\\0' "$PWD"; builtin export -p; builtin printf '# llmass-state-end\\n'; } >&"$__llmass_state" 2>/dev/null
}
builtin trap __llmass_save_state EXIT
# All of the above is builtins: nothing has forked. The go: "go <n>" once the shell is tracked,
# then the command's n bytes. Without it (the server went away, or ended a shell it had started
# ahead of a command) nothing runs and nothing is handed back.
builtin read -r -u "$__llmass_state" __llmass_go || { builtin trap - EXIT; builtin exit 0; }
__llmass_cmd=
__llmass_n=\${__llmass_go#go }
if [ "$__llmass_n" -gt 0 ] 2>/dev/null; then LC_ALL=C IFS= builtin read -r -N "$__llmass_n" -u "$__llmass_state" __llmass_cmd || { builtin trap - EXIT; builtin exit 0; }; fi
builtin unset __llmass_go __llmass_n
# The shell may have waited for its command (started ahead): bash's clock starts with the command.
SECONDS=0
`;

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

/** Removes the prelude directories of servers that are gone (killed before they could). */
function removeStale(): void {
  let names: string[];
  try {
    names = fs.readdirSync(os.tmpdir());
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(/^llmass-prelude-(\d+)-/.exec(name)?.[1]);
    if (!Number.isSafeInteger(pid) || pid === process.pid || fs.existsSync(`/proc/${pid}`)) continue;
    const dir = path.join(os.tmpdir(), name);
    try {
      // Only our own: a directory someone else made under that name is left alone.
      if (fs.lstatSync(dir).uid === process.getuid?.()) fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // gone meanwhile
    }
  }
}

/** Writes the prelude to a new file nobody else can change; returns its path and a remover. */
export function installPrelude(): { file: string; remove: () => void } {
  removeStale();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `llmass-prelude-${process.pid}-`));
  fs.chmodSync(dir, 0o755);
  const file = path.join(dir, 'prelude.bash');
  fs.writeFileSync(file, PRELUDE, { mode: 0o644, flag: 'wx' });
  return { file, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
