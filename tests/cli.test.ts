// The `llmass` command as an operator uses it: a child process, its exit code, its output.
// --help, --version, check, keys add|list|remove (a running server takes the change), every
// mistake a message and a non-zero exit; and the package: npm pack's tarball, installed with
// npm install -g into a temporary prefix, runs and serves.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { randomHash, ROOT, startServer, stopAll, tempDir, until } from './helpers/server.js';

const CLI = path.join(ROOT, 'dist', 'cli.js');

afterAll(stopAll);

function llmass(args: string[], cwd: string, env: Record<string, string> = {}): { code: number | null; out: string; err: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, ...env }, encoding: 'utf8', timeout: 30_000 });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

describe('llmass', () => {
  const dir = tempDir();
  const env = { HASH: randomHash(), SESSIONS_DIR: path.join(dir, 'sessions'), KEYS_FILE: path.join(dir, 'keys') };

  it('says how it is used, and its version', () => {
    const help = llmass(['--help'], dir);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: llmass \[serve\]/);
    for (const command of ['check', 'keys add <name>', 'keys list', 'keys remove <name>']) expect(help.out).toContain(`llmass ${command}`);
    const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version as string;
    expect(llmass(['--version'], dir)).toMatchObject({ code: 0, out: `llmass ${version}\n` });
  });

  it('answers a mistake in its arguments with a message and exit 2', () => {
    for (const args of [['bogus'], ['--bogus'], ['keys'], ['keys', 'frobnicate'], ['keys', 'add'], ['check', 'extra'], ['keys', 'list', 'x']]) {
      const result = llmass(args, dir, env);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.err).toMatch(/^llmass: .+\n\nUsage:/);
    }
  });

  it('checks a configuration without serving: ok, or each problem with its fix and exit 1', () => {
    const good = llmass(['check'], dir, env);
    expect(good, good.out + good.err).toMatchObject({ code: 0 });
    expect(good.out).toMatch(/^ok: .*one command went the whole way/);
    const bad = llmass(['check'], dir, { ...env, HASH: 'short' });
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/problem: the configuration: HASH must be at least 32 characters/);
    fs.writeFileSync(path.join(dir, '.env'), 'X=1\n');
    // Whatever the umask: a .env others can read.
    fs.chmodSync(path.join(dir, '.env'), 0o644);
    const open = llmass(['check'], dir, env);
    expect(open.code).toBe(1);
    expect(open.out).toMatch(/others can reach .*\.env \(mode 644\)\. Fix: chmod 600/);
    fs.rmSync(path.join(dir, '.env'));
  });

  it('adds, lists and removes keys, which a running server takes without a restart', async () => {
    fs.writeFileSync(env.KEYS_FILE, '', { mode: 0o600 });
    const server = await startServer({ dir, env: { KEYS_FILE: env.KEYS_FILE }, hash: env.HASH });
    const added = llmass(['keys', 'add', 'alice'], dir, env);
    expect(added.code, added.err).toBe(0);
    const secret = /^ {2}(\S{40,})$/m.exec(added.out)?.[1] ?? '';
    expect(added.out).toContain(`/context?hash=${secret}`);
    expect(fs.statSync(env.KEYS_FILE).mode & 0o777).toBe(0o600);
    expect(llmass(['keys', 'list'], dir, env)).toMatchObject({ code: 0, out: 'alice\n' });
    expect(llmass(['keys', 'list'], dir, env).out).not.toContain(secret);
    expect(await until(async () => (await server.get(`/sessions?hash=${secret}`, { auth: false })).status === 200, 10_000, 200)).toBe(true);
    expect(llmass(['keys', 'add', 'alice'], dir, env)).toMatchObject({ code: 1, err: expect.stringMatching(/exists already/) });
    expect(llmass(['keys', 'add', 'bad name!'], dir, env)).toMatchObject({ code: 1, err: expect.stringMatching(/not a key name/) });
    expect(llmass(['keys', 'add', 'HASH'], dir, env).code).toBe(1);
    expect(llmass(['keys', 'remove', 'alice'], dir, env).code).toBe(0);
    expect(await until(async () => (await server.get(`/sessions?hash=${secret}`, { auth: false })).status === 401, 10_000, 200)).toBe(true);
    expect(llmass(['keys', 'remove', 'alice'], dir, env)).toMatchObject({ code: 1, err: expect.stringMatching(/no key named alice/) });
  });

  it('adds a key with --approve always and --user, shown by keys list; refuses a user the server would leave out', () => {
    fs.writeFileSync(env.KEYS_FILE, '', { mode: 0o600 });
    expect(llmass(['keys', 'add', 'careful', '--approve', 'always'], dir, env).code).toBe(0);
    expect(llmass(['keys', 'list'], dir, env)).toMatchObject({ code: 0, out: 'careful approve=always\n' });
    expect(fs.readFileSync(env.KEYS_FILE, 'utf8')).toMatch(/^careful \S{40,} approve=always\n$/);
    const before = fs.readFileSync(env.KEYS_FILE, 'utf8');
    expect(llmass(['keys', 'add', 'rooty', '--user', 'root'], dir, env)).toMatchObject({ code: 1, err: expect.stringMatching(/user=root is root/) });
    expect(llmass(['keys', 'add', 'ghost', '--user', 'llmnosuchuser'], dir, env)).toMatchObject({ code: 1, err: expect.stringMatching(/user=llmnosuchuser does not exist/) });
    expect(llmass(['keys', 'add', 'odd', '--approve', 'sometimes'], dir, env)).toMatchObject({ code: 2, err: expect.stringMatching(/--approve takes one value, always/) });
    expect(llmass(['keys', 'list', '--user', 'x'], dir, env)).toMatchObject({ code: 2, err: expect.stringMatching(/go with llmass keys add only/) });
    expect(llmass(['check', '--approve', 'always'], dir, env).code).toBe(2);
    expect(fs.readFileSync(env.KEYS_FILE, 'utf8')).toBe(before);
  });

  it('writes nothing half: a KEYS_FILE that cannot be written, or none set, is a message and exit 1', () => {
    const nowhere = path.join(dir, 'missing-dir', 'keys');
    const result = llmass(['keys', 'add', 'bob'], dir, { ...env, KEYS_FILE: nowhere });
    expect(result).toMatchObject({ code: 1, err: expect.stringMatching(/cannot be written/) });
    expect(fs.existsSync(path.dirname(nowhere))).toBe(false);
    const unset = llmass(['keys', 'list'], dir, { HASH: env.HASH, SESSIONS_DIR: env.SESSIONS_DIR });
    expect(unset).toMatchObject({ code: 1, err: expect.stringMatching(/KEYS_FILE is not set/) });
  });
});

describe('the package', () => {
  it('packs into a tarball that npm install -g installs, and whose llmass runs and serves', async () => {
    const work = tempDir('llmass-pack-');
    const packed = spawnSync('npm', ['pack', '--ignore-scripts', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8' });
    expect(packed.status, packed.stderr).toBe(0);
    const tarball = path.join(work, packed.stdout.trim().split('\n').at(-1) ?? '');
    const prefix = path.join(work, 'prefix');
    const installed = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', tarball], { cwd: work, encoding: 'utf8', timeout: 240_000 });
    expect(installed.status, installed.stderr).toBe(0);
    const bin = path.join(prefix, 'bin', 'llmass');
    const version = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    expect(version.stdout).toMatch(/^llmass \d+\.\d+\.\d+\n$/);
    const server = await (async () => {
      const { launch } = await import('./helpers/server.js');
      const hash = randomHash();
      return launch({ program: bin, args: [], cwd: work, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, PORT: '0', HASH: hash, SESSIONS_DIR: path.join(work, 'sessions') }, hash });
    })();
    const ran = await server.get(server.url('/shell', { cmd: 'echo from the package', wait: 10 }));
    expect(ran.json).toMatchObject({ status: 'done', output: 'from the package\n' });
    await server.stop();
  }, 300_000);
});
