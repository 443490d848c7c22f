// The shipped systemd unit, checked by systemd's own tools: it is valid, and its exposure is
// "OK" or better (what cannot be tightened is explained in the unit itself).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/server.js';

const unit = path.join(ROOT, 'deploy', 'llmass.service');
const found = spawnSync('systemd-analyze', ['--version']).status === 0;
if (!found && process.env.CI) throw new Error('systemd-analyze is missing: under CI the unit must be checked');
if (!found) process.stdout.write('deploy.test.ts: skipped: systemd-analyze is not installed (apt-get install systemd)\n');

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
