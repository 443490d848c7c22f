// What a hostile command tries against the server itself, for the confinement tests under both
// harnesses (a plain start and the unit's): each must fail, and none may print the secret.
import path from 'node:path';
import { ROOT, type TestServer } from './server.js';

/** Commands that try to read the secret and records, forge the audit log, signal the server or change its code. */
export function attacksOn(server: TestServer, envFile: string, code = ROOT): string[] {
  const pid = server.proc.pid ?? 0;
  return [
    `cat ${envFile}`,
    `ls ${server.sessionsDir}`,
    `cat ${server.sessionsDir}/victim/1.ticket`,
    `echo forged >> ${server.sessionsDir}/audit.jsonl`,
    `cat /proc/${pid}/environ`,
    `kill -TERM ${pid}`,
    'kill -TERM $PPID',
    `touch ${path.join(code, 'dist', 'planted.js')}`,
    `echo 'echo pwned-by-agent' >> ${path.join(code, 'dist', 'server.js')}`,
    `echo 'echo pwned-by-agent' >> ${path.join(code, 'dist', 'running', 'prelude.bash')}`,
  ];
}
