// The one logger: structured JSON lines on stdout. Redaction happens here, on the values
// before they are serialized, so that no caller can forget it and every line stays valid JSON:
// the secret's exact value never leaves, and nothing else is rewritten.
import type { Redactor } from './redact.js';
import { isoNow } from './requestLine.js';

export type LogFields = Record<string, unknown>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  /** Something the operator should change, though the server works. */
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A line already serialized as JSON (the request lines); redacted like the others. */
  line(json: string): void;
  /** A line already serialized, whose every part was found to hold no secret when it was made. */
  checkedLine(json: string): void;
  /** Writes out lines still buffered (before the process exits). */
  flush(): void;
}

export interface LogSink {
  write(line: string): unknown;
}

/**
 * Lines are gathered and written once per turn of the event loop: under load that is one
 * write for many requests instead of one each. Errors are written at once.
 */
export function createLogger(redactor: Redactor, sink: LogSink = process.stdout): Logger {
  let pending: string[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    sink.write(text);
  };
  const push = (text: string, urgent: boolean): void => {
    pending.push(text);
    if (urgent) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  const emit = (level: 'info' | 'warn' | 'error', msg: string, fields: LogFields = {}): void => {
    push(`${redactor.serialize({ time: isoNow(), level, msg, ...fields })}\n`, level === 'error');
  };
  // A line built by hand (the request lines): parsed back only when it may hold a secret.
  const line = (json: string): void => {
    push(`${redactor.mayHold(json) ? redactor.serialize(JSON.parse(json) as Record<string, unknown>) : json}\n`, false);
  };
  return {
    line,
    checkedLine: (json) => push(`${json}\n`, false),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    flush,
  };
}
