// Who commands run as. With COMMAND_USER, every command starts through setpriv as that
// unprivileged user: its uid, its primary gid and only its own groups, no capabilities in any
// set (the bounding set emptied, so none can come back), and no_new_privs (no setuid binary
// can raise it). Without, commands run as the server's own user. The environment a command
// starts with is built here: never the server's secrets.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { ConfigError } from '../config/config.js';

export interface CommandUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

const SETPRIV = '/usr/bin/setpriv';

/** Variables every command gets on its first run, so tools do not page or colour output. */
export const AGENT_FRIENDLY_ENV = { TERM: 'dumb', NO_COLOR: '1', PAGER: 'cat', GIT_PAGER: 'cat' } as const;

/**
 * Looks the user up (getent: /etc/passwd, LDAP, …) and refuses root and the server's own user.
 * `label` names where the user was given (COMMAND_USER, or a key's user=) in the messages.
 */
export function resolveCommandUser(name: string, label = `COMMAND_USER ${name}`): CommandUser {
  const user = lookUpUser(name, label);
  if (user.uid === process.getuid?.()) {
    throw new ConfigError(`${label} is the server's own user: its commands could read the server's secret and change its records; use a separate user`);
  }
  if (process.getuid?.() !== 0) {
    throw new ConfigError(`${label} needs the server to start as root (it switches to ${name} for each command, with no capability left); start it as root, or leave it unset`);
  }
  if (!fs.existsSync(SETPRIV)) throw new ConfigError(`${label} needs ${SETPRIV} (Debian: apt-get install util-linux)`);
  return user;
}

/** The user, if it exists and is not root (what `llmass keys add --user` can check as any user). */
export function lookUpUser(name: string, label = `user=${name}`): CommandUser {
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim();
  } catch {
    throw new ConfigError(`${label} does not exist: create it first (useradd --system --create-home ${name})`);
  }
  const [, , uid, gid, , home] = line.split(':');
  const user = { name, uid: Number(uid), gid: Number(gid), home: home ?? '/' };
  if (user.uid === 0) throw new ConfigError(`${label} is root: commands must run as an unprivileged user`);
  return user;
}

/** The program and arguments that run `input`: the shell, through setpriv when confined. */
export function commandLine(shell: string, input: string, user: CommandUser | null): { program: string; args: string[] } {
  return asCommandUser([shell, '-c', input], user);
}

/** Any program with its arguments, as the command user when there is one (setpriv as above). */
export function asCommandUser(argv: readonly [string, ...string[]], user: CommandUser | null): { program: string; args: string[] } {
  const [program, ...args] = argv;
  if (user === null) return { program, args };
  return {
    program: SETPRIV,
    args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', '--no-new-privs', '--', program, ...args],
  };
}

/**
 * Variables the dynamic loader and libc act on in a program started by root (glibc ignores them
 * only for setuid programs): LD_PRELOAD and the like. setpriv starts as root, so a confined
 * command's environment must not reach it with these: an agent could `export LD_PRELOAD=…` and
 * have its library run as root in the next command's setpriv.
 */
const LOADER_SENSITIVE = /^(LD_[A-Z_]*|GCONV_PATH|GETCONF_DIR|GLIBC_TUNABLES|HOSTALIASES|LOCALDOMAIN|LOCPATH|MALLOC_[A-Z_]*|NIS_PATH|NLSPATH|RESOLV_HOST_CONF|RES_OPTIONS|TMPDIR|TZDIR)$/;
/** What such a variable is called on its way through setpriv; the prelude renames it back. */
export const KEPT_PREFIX = 'LLMASS_KEEP_';

/**
 * The environment setpriv starts with: the command's, but with every loader-sensitive variable
 * renamed (KEPT_PREFIX), so that root's setpriv ignores it; the prelude, running as the command
 * user, gives it its name back before the command runs.
 */
export function environmentThroughSetpriv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const safe: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    safe[LOADER_SENSITIVE.test(name) ? `${KEPT_PREFIX}${name}` : name] = value;
  }
  return safe;
}

/** The environment of a session's first command. */
export function firstEnvironment(serverEnv: NodeJS.ProcessEnv, user: CommandUser | null, shell: string): Record<string, string> {
  if (user !== null) {
    return {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      LANG: serverEnv.LANG ?? 'C.UTF-8',
      HOME: user.home,
      USER: user.name,
      LOGNAME: user.name,
      SHELL: shell,
      ...AGENT_FRIENDLY_ENV,
    };
  }
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(serverEnv)) {
    // The secret never, nor the server's own controls.
    if (value !== undefined && name !== 'HASH' && name !== 'BASH_ENV' && name !== 'KEYS_FILE') env[name] = value;
  }
  return { ...env, ...AGENT_FRIENDLY_ENV };
}
