// The one logger: structured JSON lines on stdout. Redaction happens here, on the serialized
// line, so that no caller can forget it: the secret and any `hash=` query value never leave.
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Writes out lines still buffered (before the process exits). */
  flush(): void;
}

export interface LogSink {
  write(line: string): unknown;
}

/** Replaces the secret and every `hash=<value>` / `Bearer <value>` in `text`. */
export function redact(text: string, secret: string): string {
  // The cheap includes() checks keep the common line (nothing to redact) free of regexes.
  let out = secret.length > 0 && text.includes(secret) ? text.split(secret).join('REDACTED') : text;
  if (/hash=/i.test(out)) out = out.replace(/([?&]hash=)[^&\s"'#]*/gi, '$1REDACTED');
  if (/bearer/i.test(out)) out = out.replace(/(Bearer\s+)[^\s"']+/gi, '$1REDACTED');
  return out;
}

/**
 * Lines are gathered and written once per turn of the event loop: under load that is one
 * write for many requests instead of one each. Errors are written at once.
 */
export function createLogger(secret: string, sink: LogSink = process.stdout): Logger {
  let pending: string[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    sink.write(text);
  };
  const emit = (level: 'info' | 'error', msg: string, fields: LogFields = {}): void => {
    const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields });
    pending.push(redact(line, secret) + '\n');
    if (level === 'error') flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  return {
    info: (msg, fields) => emit('info', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    flush,
  };
}
