// startAsUnit(): the server started the way deploy/llmass.service starts it, with the settings
// read from the unit file itself, so that a change to the unit is tested by that change: its
// User and Group (and SupplementaryGroups), its UMask, its capability bounding set, SecureBits
// and NoNewPrivileges (through setpriv), ProtectProc (a private mount namespace with /proc
// mounted hidepid=invisible), its WorkingDirectory, StateDirectory and RuntimeDirectory with
// their modes, its EnvironmentFile and ExecStart. The unit's absolute paths are laid out under a
// temporary root; the code is an installed copy (root-owned, as the Deploy makes it) under
// <root>/opt/llmass. Needs root, as the unit does.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, launch, randomHash, tempDir, type TestServer } from './server.js';

export const UNIT_FILE = path.join(ROOT, 'deploy', 'llmass.service');

/** The [Service] settings of the unit, each key with every value it was given. */
export function unitSettings(file = UNIT_FILE): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header?.[1] !== undefined) {
      section = header[1];
      continue;
    }
    if (section !== 'Service') continue;
    const eq = line.indexOf('=');
    if (eq === -1) continue;
    const key = line.slice(0, eq);
    settings.set(key, [...(settings.get(key) ?? []), line.slice(eq + 1)]);
  }
  return settings;
}

function one(settings: Map<string, string[]>, key: string): string | undefined {
  return settings.get(key)?.at(-1);
}

function required(settings: Map<string, string[]>, key: string): string {
  const value = one(settings, key);
  if (value === undefined) throw new Error(`deploy/llmass.service has no ${key}=`);
  return value;
}

function groupId(name: string): number {
  try {
    return Number(execFileSync('getent', ['group', name], { encoding: 'utf8' }).split(':')[2]);
  } catch {
    throw new Error(`the unit's group ${name} does not exist here (Debian's caddy package makes it: apt-get install caddy)`);
  }
}

/** systemd's capability names to setpriv's. */
function capabilities(value: string): string {
  return value
    .split(/\s+/)
    .filter(Boolean)
    .map((cap) => `+${cap.replace(/^CAP_/, '').toLowerCase()}`)
    .join(',');
}

/** SecureBits= names to setpriv's. */
function secureBits(value: string | undefined): string[] {
  if (value === undefined) return [];
  const bits = value
    .split(/\s+/)
    .filter(Boolean)
    .map((bit) => `+${bit.replace(/-/g, '_')}`);
  return [`--securebits=${bits.join(',')}`];
}

/** The EnvironmentFile format systemd reads: KEY=VALUE lines. */
function readEnvironmentFile(file: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (match?.[1] !== undefined) env[match[1]] = match[2] ?? '';
  }
  return env;
}

/** The code as the Deploy installs it: a root-owned copy, readable by all, writable by root only. */
export function installCode(target: string): void {
  fs.mkdirSync(target, { recursive: true });
  for (const dir of ['dist', 'deploy']) fs.cpSync(path.join(ROOT, dir), path.join(target, dir), { recursive: true });
  for (const file of ['package.json', 'README.md', 'CONTEXT.md', 'Caddyfile']) fs.copyFileSync(path.join(ROOT, file), path.join(target, file));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(target, 'node_modules'));
  execFileSync('chown', ['-R', 'root:root', target]);
  execFileSync('chmod', ['-R', 'u=rwX,go=rX', target]);
}

export interface UnitOptions {
  /** Lines for the EnvironmentFile besides HASH, SESSIONS_DIR and (for tcp) PORT=0. */
  readonly env: Record<string, string>;
  /** Reuse the root of an earlier start (a restart). */
  readonly root?: string;
  readonly hash?: string;
  readonly listenOn?: 'tcp' | 'socket';
  readonly expectExit?: boolean;
  /**
   * A descriptor number the server is started with, open on a file and without close-on-exec,
   * as a careless supervisor would leave it (Node itself marks low ones close-on-exec).
   */
  readonly inheritedDescriptor?: number;
}

export interface UnitServer extends TestServer {
  /** The temporary root the unit's paths are laid out under. */
  readonly root: string;
  /** Where the installed copy of the code is (the unit's /opt/llmass). */
  readonly code: string;
  /** A unit path (e.g. /run/llmass/llmass.sock) as laid out under the root. */
  at(unitPath: string): string;
}

export async function startAsUnit(options: UnitOptions): Promise<UnitServer> {
  const settings = unitSettings();
  const root = options.root ?? tempDir('llmass-unit-');
  // The command user must reach the installed code (the prelude) through the root.
  fs.chmodSync(root, 0o755);
  const at = (unitPath: string): string => path.join(root, unitPath);
  const [node, serverJs] = required(settings, 'ExecStart').split(/\s+/);
  if (node === undefined || serverJs === undefined) throw new Error('ExecStart is not "<node> <server.js>"');
  const code = at(path.dirname(path.dirname(serverJs)));
  if (!fs.existsSync(code)) {
    installCode(code);
    // Every directory from the root down to the code searchable, as on a real host (/opt).
    for (let dir = path.dirname(code); dir.startsWith(root) && dir !== root; dir = path.dirname(dir)) fs.chmodSync(dir, 0o755);
  }

  const group = required(settings, 'Group');
  const gid = groupId(group);
  const state = at(path.join('/var/lib', required(settings, 'StateDirectory')));
  const runtime = at(path.join('/run', required(settings, 'RuntimeDirectory')));
  for (const [dir, mode] of [
    [state, required(settings, 'StateDirectoryMode')],
    [runtime, required(settings, 'RuntimeDirectoryMode')],
  ] as const) {
    fs.mkdirSync(dir, { recursive: true });
    // /var/lib and /run are searchable by all, whatever the umask the tests run under.
    for (let parent = path.dirname(dir); parent !== root; parent = path.dirname(parent)) fs.chmodSync(parent, 0o755);
    // As systemd makes them: owned by the unit's User and Group, with the unit's mode.
    fs.chownSync(dir, 0, gid);
    fs.chmodSync(dir, Number.parseInt(mode, 8));
  }

  const hash = options.hash ?? randomHash();
  const envFile = at(required(settings, 'EnvironmentFile').replace(/^-/, ''));
  fs.mkdirSync(path.dirname(envFile), { recursive: true, mode: 0o700 });
  const lines: Record<string, string> = {
    HASH: hash,
    SESSIONS_DIR: path.join(state, 'sessions'),
    ...(options.listenOn === 'socket' ? { SOCKET: path.join(runtime, 'llmass.sock') } : { PORT: '0' }),
    ...options.env,
  };
  fs.writeFileSync(envFile, Object.entries(lines).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });

  if (required(settings, 'User') !== 'root') throw new Error('the harness starts the unit as root only, as the unit does');
  const supplementary = (settings.get('SupplementaryGroups') ?? []).flatMap((value) => value.split(/\s+/)).filter(Boolean);
  const setpriv = [
    '/usr/bin/setpriv',
    `--regid=${gid}`,
    supplementary.length === 0 ? '--clear-groups' : `--groups=${supplementary.map(groupId).join(',')}`,
    `--bounding-set=-all,${capabilities(required(settings, 'CapabilityBoundingSet'))}`,
    '--inh-caps=-all',
    '--ambient-caps=-all',
    ...secureBits(one(settings, 'SecureBits')),
    ...(one(settings, 'NoNewPrivileges') === 'yes' ? ['--no-new-privs'] : []),
    '--',
    node === '/usr/bin/node' ? process.execPath : node,
    at(serverJs),
  ];
  const protectProc = one(settings, 'ProtectProc');
  const mountProc = protectProc === undefined || protectProc === 'default' ? '' : `mount -t proc -o hidepid=${protectProc} proc /proc && `;
  const umask = one(settings, 'UMask') ?? '0022';
  const inherit = options.inheritedDescriptor === undefined ? '' : `exec ${options.inheritedDescriptor}</etc/hostname && `;
  const script = `${mountProc}${inherit}umask ${umask} && exec "$@"`;
  const server = await launch({
    program: '/usr/bin/unshare',
    args: ['--mount', '--propagation', 'private', '--', '/bin/bash', '-c', script, 'unit', ...setpriv],
    cwd: at(required(settings, 'WorkingDirectory')),
    // systemd gives the service a clean environment: the EnvironmentFile and little else.
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', ...readEnvironmentFile(envFile) },
    hash,
    expectExit: options.expectExit,
    listenOn: options.listenOn,
  });
  return { ...server, root, code, at };
}
