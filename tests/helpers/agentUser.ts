// A real unprivileged command user for a test file: made in beforeAll, its processes ended and
// the user removed in afterAll. Needs root: the caller skips (and says why) otherwise.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { processRunning, processesWhere, until } from './server.js';

export interface AgentUser {
  readonly name: string;
  readonly uid: number;
  readonly home: string;
  /** The user's live processes, from the process table. */
  processes(): number[];
  /** KILLs every process of the user (between tests). */
  killAll(): void;
  /** Ends the user's processes and removes the user and its home. */
  remove(): Promise<void>;
}

export function makeAgentUser(prefix = 'llmt'): AgentUser {
  const name = `${prefix}${crypto.randomBytes(3).toString('hex')}`;
  const home = fs.mkdtempSync('/tmp/llmass-agent-home-');
  fs.rmdirSync(home);
  execFileSync('useradd', ['--system', '--create-home', '--home-dir', home, '--shell', '/bin/bash', name]);
  // A private home, which the server (root without DAC capabilities under systemd) may not enter.
  fs.chmodSync(home, 0o700);
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const processes = (): number[] =>
    processesWhere((pid) => {
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) === uid && processRunning(pid);
    });
  const killAll = (): void => {
    for (const pid of processes()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  };
  return {
    name,
    uid,
    home,
    processes,
    killAll,
    async remove() {
      killAll();
      await until(() => processes().length === 0, 5000);
      execFileSync('userdel', [name]);
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}
