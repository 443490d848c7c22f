# LLMASS prelude: bash sources this file (BASH_ENV) before each command. It is part of the
# installed code (the build copies it next to the server, dist/prelude.bash): root-owned, readable
# by the command user, writable by nobody else, so nothing the agent can write is ever sourced.
#
# It merges stderr into stdout, applies the limits and sets the EXIT trap, then waits for the
# server's go on fd 3, which carries the command: the shell may be started before the command is
# known (shellsAhead.ts), and whatever can be done before it is. Once it holds the command it says
# so on fd 3 ("started"): that line is the server's only evidence that the command ran, and a
# shell that exits without it ends its ticket `error` (bash skips an unreadable BASH_ENV without
# a word, and would run nothing, successfully). On exit it hands the shell state back on fd 3: the
# working directory and a NUL, then `export -p`, then an end line. Builtins only, no fork
# (exportParser.ts reads the state). Checked by shellcheck in the tests.
# shellcheck shell=bash disable=SC2034
exec 2>&1
exec {__llmass_state}>&3 3>&-
builtin ulimit -u "${LLMASS_MAX_PROCESSES:-unlimited}" 2>/dev/null
builtin ulimit -v "${LLMASS_MAX_MEMORY_KB:-unlimited}" 2>/dev/null
# The kernel's OOM killer takes a command before the server (raising one's own score needs no privilege).
builtin printf '500\n' > /proc/self/oom_score_adj 2>/dev/null
# Entered as the command user: the server (root without DAC capabilities) may not enter its home.
if [ -n "${LLMASS_CWD-}" ]; then builtin cd -- "$LLMASS_CWD" 2>/dev/null || builtin printf '[llmass: cannot enter %s]\n' "$LLMASS_CWD"; fi
# Loader variables (LD_PRELOAD …) cross setpriv under another name, so that root's setpriv ignores
# them; here, as the command user, they get their names back.
for __llmass_v in ${!LLMASS_KEEP_*}; do builtin export "${__llmass_v#LLMASS_KEEP_}=${!__llmass_v}"; builtin unset "$__llmass_v"; done
builtin unset BASH_ENV LLMASS_MAX_PROCESSES LLMASS_MAX_MEMORY_KB LLMASS_CWD __llmass_v
__llmass_save_state() {
  { builtin printf '%s\0' "$PWD"; builtin export -p; builtin printf '# llmass-state-end\n'; } 1>&"$__llmass_state" 2>/dev/null
}
builtin trap __llmass_save_state EXIT
# All of the above is builtins: nothing has forked. The go: "go <n>" once the shell is tracked,
# then the command's n bytes. Without it (the server went away, or ended a shell it had started
# ahead of a command) nothing runs and nothing is handed back.
builtin read -r -u "$__llmass_state" __llmass_go || { builtin trap - EXIT; builtin exit 0; }
__llmass_cmd=
__llmass_n=${__llmass_go#go }
if [ "$__llmass_n" -gt 0 ] 2>/dev/null; then LC_ALL=C IFS= builtin read -r -N "$__llmass_n" -u "$__llmass_state" __llmass_cmd || { builtin trap - EXIT; builtin exit 0; }; fi
builtin unset __llmass_go __llmass_n
# The evidence that the command is about to run: written before it, so a command that closes or
# reuses the descriptor cannot take it back.
builtin printf 'started\n' 1>&"$__llmass_state" 2>/dev/null
# The shell may have waited for its command (started ahead): bash's clock starts with the command.
SECONDS=0
