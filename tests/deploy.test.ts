// The shipped systemd unit, checked by systemd's own tools: it is valid, and its exposure is
// "OK" or better (what cannot be tightened is explained in the unit itself).
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, stopAll, tempDir } from './helpers/server.js';
import { installCode } from './helpers/unit.js';

const unit = path.join(ROOT, 'deploy', 'llmass.service');
const found = spawnSync('systemd-analyze', ['--version']).status === 0;
if (!found && process.env.CI) throw new Error('systemd-analyze is missing: under CI the unit must be checked');
if (!found) process.stdout.write('deploy.test.ts: skipped: systemd-analyze is not installed (apt-get install systemd)\n');

afterAll(stopAll);

describe.skipIf(!found)('the systemd unit', () => {
  it('passes systemd-analyze verify', () => {
    const result = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    expect(result.stderr + result.stdout).toBe('');
    expect(result.status).toBe(0);
  });

  it('has an exposure of OK or better in systemd-analyze security', () => {
    const result = spawnSync('systemd-analyze', ['security', '--offline=true', unit], { encoding: 'utf8' });
    const match = /Overall exposure level for llmass\.service: ([\d.]+) (\w+)/.exec(result.stdout);
    expect(match?.[2]).toMatch(/^(OK|SAFE)$/);
    expect(Number(match?.[1])).toBeLessThanOrEqual(5);
  });

  it('gives no capability beyond switching users and signalling them, and restarts whatever the exit', () => {
    const text = fs.readFileSync(unit, 'utf8');
    expect(text).toMatch(/^CapabilityBoundingSet=CAP_SETUID CAP_SETGID CAP_SETPCAP CAP_KILL$/m);
    expect(text).toMatch(/^Restart=always$/m);
    for (const setting of ['MemoryMax', 'TasksMax', 'CPUQuota', 'OOMScoreAdjust', 'Delegate']) expect(text).toMatch(new RegExp(`^${setting}=`, 'm'));
  });
});

const isRoot = process.getuid?.() === 0;
const caddyGroup = spawnSync('getent', ['group', 'caddy']).status === 0;
if (process.env.CI && !(isRoot && caddyGroup)) throw new Error('under CI, deploy/install.sh must be run: as root, with Caddy installed');
if (!(isRoot && caddyGroup)) process.stdout.write('deploy.test.ts: install.sh skipped: it needs root and Caddy\'s group (CI has both)\n');

describe.skipIf(!(isRoot && caddyGroup))('deploy/install.sh, as the Deploy runs it', () => {
  it('installs everything the first time and changes nothing the second', () => {
    const code = path.join(tempDir('llmass-code-'), 'opt', 'llmass');
    installCode(code);
    // As a careless clone would leave it: others' read bits gone, a file writable by others.
    execFileSync('chmod', ['-R', 'go-rwx', code]);
    fs.chmodSync(path.join(code, 'dist', 'server.js'), 0o666);
    const destdir = tempDir('llmass-root-');
    const user = `llmi${crypto.randomBytes(3).toString('hex')}`;
    const install = () => spawnSync('sh', [path.join(code, 'deploy', 'install.sh')], { encoding: 'utf8', env: { PATH: process.env.PATH, DESTDIR: destdir, LLMASS_AGENT_USER: user } });
    try {
      const first = install();
      expect(first.stderr).toBe('');
      expect(first.status).toBe(0);
      expect(first.stdout).toContain(`made user ${user}`);
      const envFile = path.join(destdir, 'etc/llmass/llmass.env');
      const env = fs.readFileSync(envFile, 'utf8');
      expect(env).toMatch(/^HASH=[A-Za-z0-9_-]{48}$/m);
      expect(env).toContain(`COMMAND_USER=${user}\n`);
      expect(fs.statSync(envFile).mode & 0o777).toBe(0o600);
      expect(fs.readFileSync(path.join(destdir, 'etc/systemd/system/llmass.service'), 'utf8')).toBe(fs.readFileSync(unit, 'utf8'));
      expect(fs.readFileSync(path.join(destdir, 'etc/systemd/system/caddy.service.d/llmass.conf'), 'utf8')).toMatch(/^UMask=0027$/m);
      const logDir = fs.statSync(path.join(destdir, 'var/log/caddy'));
      expect(logDir.mode & 0o777).toBe(0o750);
      expect(String(logDir.uid)).toBe(execFileSync('id', ['-u', 'caddy'], { encoding: 'utf8' }).trim());
      expect(fs.statSync(path.join(code, 'dist', 'running', 'prelude.bash')).mode & 0o777).toBe(0o644);
      expect(fs.statSync(path.join(code, 'dist', 'server.js')).mode & 0o777).toBe(0o644);
      expect(fs.statSync(path.join(code, 'dist')).mode & 0o777).toBe(0o755);

      fs.appendFileSync(path.join(destdir, 'etc/systemd/system/caddy.service.d/llmass.conf'), '# edited\n');
      const second = install();
      expect(second.stderr).toBe('');
      expect(second.status).toBe(0);
      expect(second.stdout).toContain(`user ${user} exists`);
      expect(fs.readFileSync(envFile, 'utf8')).toBe(env);
      expect(fs.readFileSync(path.join(destdir, 'etc/systemd/system/caddy.service.d/llmass.conf'), 'utf8')).toMatch(/# edited\n$/);
      expect(fs.readFileSync(path.join(destdir, 'etc/caddy/Caddyfile'), 'utf8')).toBe('import /etc/caddy/llmass.caddy\n');
    } finally {
      spawnSync('userdel', ['--remove', user]);
    }
  });
});

const shellcheck = spawnSync('shellcheck', ['--version']).status === 0;
if (process.env.CI && !shellcheck) throw new Error('shellcheck is missing: under CI the shipped shell code must be linted');
if (!shellcheck) process.stdout.write('deploy.test.ts: lint skipped: shellcheck is not installed (apt-get install shellcheck)\n');

describe.skipIf(!shellcheck)('the shipped shell code', () => {
  it('passes shellcheck: the prelude every command sources, the file helpers, and install.sh', () => {
    for (const [file, shell] of [['src/running/prelude.bash', 'bash'], ['src/running/readFile.bash', 'bash'], ['src/running/writeFile.bash', 'bash'], ['deploy/install.sh', 'sh']] as const) {
      const result = spawnSync('shellcheck', ['--shell', shell, '--severity', 'style', path.join(ROOT, file)], { encoding: 'utf8' });
      expect(result.stdout, file).toBe('');
      expect(result.status, file).toBe(0);
    }
  });

  it('installs the prelude the build copies: the same bytes, readable by all, writable by its owner only', () => {
    const installed = path.join(ROOT, 'dist', 'running', 'prelude.bash');
    expect(fs.readFileSync(installed, 'utf8')).toBe(fs.readFileSync(path.join(ROOT, 'src', 'running', 'prelude.bash'), 'utf8'));
    expect(fs.statSync(installed).mode & 0o777).toBe(0o644);
  });
});
