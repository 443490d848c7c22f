// The one logger: structured JSON lines on stdout. Redaction happens here, on the serialized
// line, so that no caller can forget it: the secret and any `hash=` query value never leave.
export type LogFields = Record<string, unknown>;

export interface Logger {
  info(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export interface LogSink {
  write(line: string): unknown;
}

/** Replaces the secret and every `hash=<value>` / `Bearer <value>` in `text`. */
export function redact(text: string, secret: string): string {
  let out = secret.length > 0 ? text.split(secret).join('REDACTED') : text;
  out = out.replace(/([?&]hash=)[^&\s"'#]*/gi, '$1REDACTED');
  out = out.replace(/(Bearer\s+)[^\s"']+/gi, '$1REDACTED');
  return out;
}

export function createLogger(secret: string, sink: LogSink = process.stdout): Logger {
  const emit = (level: 'info' | 'error', msg: string, fields: LogFields = {}): void => {
    const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields });
    sink.write(redact(line, secret) + '\n');
  };
  return {
    info: (msg, fields) => emit('info', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
  };
}
