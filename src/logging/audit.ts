// The audit log: append-only JSON lines, one when a command is accepted and one when it ends,
// and one per file read or put in place.
// Each line is written synchronously on a file held open in append mode: a line of a few
// hundred bytes costs microseconds, and the record of a command is on disk before the answer
// that reports it. It holds each command exactly as sent, but for the secret's exact value,
// replaced before the line is serialized (so every line is valid JSON).
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from './logger.js';
import type { Redactor } from './redact.js';

export type AuditEvent =
  | {
      event: 'accepted';
      client: string;
      /** The name of the key that submitted it (HASH for the operator's). */
      key: string;
      session: string;
      ticket: number;
      command: string;
      timeout: number;
      idle_timeout: number | null;
      nonce: string | null;
    }
  | {
      /** A file read through /file, or put in place through /upload (by the command user). */
      event: 'file_read' | 'file_written';
      client: string;
      key: string;
      session: string;
      path: string;
      bytes: number;
      sha256: string;
    }
  | {
      /** A write to a tty=1 ticket's terminal: its text, or `[secret input, N bytes]`. */
      event: 'stdin';
      client: string;
      key: string;
      session: string;
      ticket: number;
      n: number;
      text: string;
    }
  | {
      /** A person's decision on a pending ticket (or the timeout's): who, what, when (the line's time). */
      event: 'approved' | 'denied';
      client: string;
      /** The operator's key, an approval link, or the timeout. */
      by: 'HASH' | 'link' | 'timeout';
      /** The key that submitted the ticket. */
      key: string;
      session: string;
      ticket: number;
      command: string;
      reason?: string;
    }
  | {
      /** Processes a finished ticket left running, ended: by a cancel, or to free the user's process limit. */
      event: 'background_ended';
      session: string;
      ticket: number;
      count: number;
      why: 'cancel' | 'process-limit';
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
  private fd: number | undefined;

  constructor(
    readonly file: string,
    private readonly redactor: Redactor,
    private readonly logger: Logger,
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  }

  /** Appends one line. A failure is logged, never thrown: the command has happened anyway. */
  record(event: AuditEvent): void {
    const line = this.redactor.serialize({ time: new Date().toISOString(), ...event }) + '\n';
    try {
      this.fd ??= fs.openSync(this.file, 'a', 0o600);
      fs.writeSync(this.fd, line);
    } catch (error) {
      this.logger.error('audit log write failed', { file: this.file, error: String(error) });
    }
  }

  /** Closes the file so that the next line opens it again: after an operator moved it away (SIGHUP). */
  reopen(): void {
    if (this.fd === undefined) return;
    fs.closeSync(this.fd);
    this.fd = undefined;
  }

  close(): void {
    this.reopen();
  }
}
