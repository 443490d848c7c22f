// The one logger: structured JSON lines on stdout. Redaction happens here, on the values
// before they are serialized, so that no caller can forget it and every line stays valid JSON:
// the secret's exact value never leaves, and nothing else is rewritten.
import type { Redactor } from './redact.js';

export type LogFields = Record<string, unknown>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  /** Something the operator should change, though the server works. */
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A line already serialized as JSON (the request lines); redacted like the others. */
  line(json: string): void;
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
  const emit = (level: 'info' | 'warn' | 'error', msg: string, fields: LogFields = {}): void => {
    const record = { time: new Date().toISOString(), level, msg, ...fields };
    // Serialized first; only a line that holds a secret is built again from redacted values
    // (so it stays valid JSON). Most lines hold none, and cost one pass of includes().
    let line = JSON.stringify(record);
    if (redactor.mayHold(line)) line = JSON.stringify(redactor.value(record));
    pending.push(line + '\n');
    if (level === 'error') flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  const line = (json: string): void => {
    // A line that may hold a secret is built again from its values, redacted.
    pending.push(`${redactor.mayHold(json) ? JSON.stringify(redactor.value(JSON.parse(json))) : json}\n`);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  return {
    line,
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    flush,
  };
}
