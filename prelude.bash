# LLMASS prelude: bash sources this (BASH_ENV) before each command. It ships with the code and
# is never written by the server, so nothing the agent can write is ever sourced. It waits for
# the server's go (the command is then in its cgroup), merges stderr into stdout, applies the
# limits, and on exit hands the shell state back on fd 3: the working directory, then each
# exported variable as NAME=value, NUL-separated, then an end mark. Builtins only: no fork.
builtin read -r -u 3 __llmass_go
exec 2>&1
exec {__llmass_state}>&3 3>&-
builtin ulimit -u "${LLMASS_MAX_PROCESSES:-unlimited}" 2>/dev/null
builtin ulimit -v "${LLMASS_MAX_MEMORY_KB:-unlimited}" 2>/dev/null
builtin unset BASH_ENV LLMASS_MAX_PROCESSES LLMASS_MAX_MEMORY_KB __llmass_go
__llmass_save_state() {
  local __llmass_n
  {
    builtin printf '%s\0' "$PWD"
    for __llmass_n in ${!a*} ${!b*} ${!c*} ${!d*} ${!e*} ${!f*} ${!g*} ${!h*} ${!i*} ${!j*} ${!k*} ${!l*} ${!m*} ${!n*} ${!o*} ${!p*} ${!q*} ${!r*} ${!s*} ${!t*} ${!u*} ${!v*} ${!w*} ${!x*} ${!y*} ${!z*} ${!A*} ${!B*} ${!C*} ${!D*} ${!E*} ${!F*} ${!G*} ${!H*} ${!I*} ${!J*} ${!K*} ${!L*} ${!M*} ${!N*} ${!O*} ${!P*} ${!Q*} ${!R*} ${!S*} ${!T*} ${!U*} ${!V*} ${!W*} ${!X*} ${!Y*} ${!Z*} ${!_*} ; do
      [[ ${!__llmass_n@a} == *x* ]] && builtin printf '%s=%s\0' "$__llmass_n" "${!__llmass_n}"
    done
    builtin printf 'llmass-state-end\0'
  } >&"$__llmass_state" 2>/dev/null
}
builtin trap __llmass_save_state EXIT
