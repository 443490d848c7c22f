// The audit log: append-only JSON lines, one when a command is accepted and one when it ends.
// Lines are appended in order through one chain; the secret is redacted like in the logger.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from './log.js';
import { redact } from './log.js';

export type AuditEvent =
  | {
      event: 'accepted';
      client: string;
      session: string;
      ticket: number;
      command: string;
      timeout: number;
      idle_timeout: number | null;
      nonce: string | null;
    }
  | {
      event: 'ended';
      session: string;
      ticket: number;
      status: string;
      exit_code: number | null;
      signal: string | null;
      duration_ms: number | null;
      output_bytes: number;
    };

export class AuditLog {
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly file: string,
    private readonly secret: string,
    private readonly logger: Logger,
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  }

  /** Appends one line; resolves when it is written (a failure is logged, never thrown). */
  record(event: AuditEvent): Promise<void> {
    const line = redact(JSON.stringify({ time: new Date().toISOString(), ...event }), this.secret) + '\n';
    this.chain = this.chain
      .then(() => fs.promises.appendFile(this.file, line, { mode: 0o600 }))
      .catch((error: unknown) => this.logger.error('audit log write failed', { file: this.file, error: String(error) }));
    return this.chain;
  }

  /** Resolves when every line recorded so far is on disk. */
  flush(): Promise<void> {
    return this.chain;
  }
}
