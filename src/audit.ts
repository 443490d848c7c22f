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
  /** Held open: one write per line instead of open, write and close. */
  private handle: Promise<fs.promises.FileHandle> | undefined;

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
      .then(async () => {
        this.handle ??= fs.promises.open(this.file, 'a', 0o600);
        await (await this.handle).write(line);
      })
      .catch((error: unknown) => this.logger.error('audit log write failed', { file: this.file, error: String(error) }));
    return this.chain;
  }

  /** Resolves when every line recorded so far is on disk. */
  flush(): Promise<void> {
    return this.chain;
  }

  /** Closes the file so that the next line opens it again: after an operator moved it away (SIGHUP). */
  reopen(): Promise<void> {
    this.chain = this.chain.then(async () => {
      const handle = this.handle;
      this.handle = undefined;
      await (await handle)?.close();
    }).catch((error: unknown) => this.logger.error('audit log reopen failed', { error: String(error) }));
    return this.chain;
  }
}
