// Redaction of secrets by their exact values: the server's HASH (and, later, every key) is
// replaced by REDACTED wherever it appears, and nothing else is. It works on values (before
// they are serialized) and on output as it streams, so every line stays valid JSON and a
// command's text is kept exactly as the agent sent it, but for the secret itself.
export const REDACTED = 'REDACTED';
/** A quick look for something shaped like the start of a token (`x.name.` or `r.name.`). */
const TOKEN_HINT = /\b[xr]\.[A-Za-z0-9][A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[0-9a-z]+\./;

export class Redactor {
  private secrets: string[] = [];
  private secretBytes: Buffer[] = [];
  private escaped = false;
  private readonly replacement = Buffer.from(REDACTED, 'utf8');
  private recognised: { pattern: RegExp; isSecret: (candidate: string) => boolean } | undefined;

  constructor(secrets: readonly string[]) {
    this.setSecrets(secrets);
  }

  /** The exact values to replace (HASH and every key); called again when the keys change. */
  setSecrets(secrets: readonly string[]): void {
    this.secrets = secrets.filter((secret) => secret.length > 0);
    this.secretBytes = this.secrets.map((secret) => Buffer.from(secret, 'utf8'));
    this.escaped = this.secrets.some((secret) => JSON.stringify(secret) !== `"${secret}"`);
  }

  /**
   * Secrets that are not known in advance (tokens): text matching `pattern` is replaced only
   * if `isSecret` confirms that exact value is one.
   */
  recognise(pattern: RegExp, isSecret: (candidate: string) => boolean): void {
    this.recognised = { pattern, isSecret };
  }

  text(value: string): string {
    let out = value;
    for (const secret of this.secrets) {
      if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    }
    const recognised = this.recognised;
    if (recognised !== undefined && out.includes('.')) out = out.replace(recognised.pattern, (candidate) => (recognised.isSecret(candidate) ? REDACTED : candidate));
    return out;
  }

  /** Strings anywhere inside plain objects and arrays, redacted; other values as they are. */
  value(value: unknown): unknown {
    if (typeof value === 'string') return this.text(value);
    if (Array.isArray(value)) return value.map((item) => this.value(item));
    if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      const out: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) out[key] = this.value(item);
      return out;
    }
    return value;
  }

  /**
   * `record` as one JSON line without any secret: serialized first, and built again from
   * redacted values only when the line may hold one (most hold none), so it stays valid JSON.
   */
  serialize(record: Record<string, unknown>): string {
    const line = JSON.stringify(record);
    return this.mayHold(line) ? JSON.stringify(this.value(record)) : line;
  }

  /** Whether `text` may hold a secret: a cheap test before the work of redacting values. */
  mayHold(text: string): boolean {
    // A secret with " or \ in it reads differently once serialized: always take the long way.
    if (this.escaped) return true;
    for (const secret of this.secrets) if (text.includes(secret)) return true;
    return this.recognised !== undefined && TOKEN_HINT.test(text) && this.text(text) !== text;
  }

  bytes(data: Buffer): Buffer {
    let out = data;
    for (const secret of this.secretBytes) {
      let at = out.indexOf(secret);
      if (at === -1) continue;
      const parts: Buffer[] = [];
      let from = 0;
      while (at !== -1) {
        parts.push(out.subarray(from, at), this.replacement);
        from = at + secret.length;
        at = out.indexOf(secret, from);
      }
      parts.push(out.subarray(from));
      out = Buffer.concat(parts);
    }
    return out;
  }

  /** How many bytes at the end of `data` could be the start of a secret that the next chunk completes. */
  heldBack(data: Buffer): number {
    let hold = 0;
    for (const secret of this.secretBytes) {
      const first = secret[0];
      for (let k = Math.min(secret.length - 1, data.length); k > hold; k -= 1) {
        if (data[data.length - k] !== first) continue;
        if (data.subarray(data.length - k).equals(secret.subarray(0, k))) {
          hold = k;
          break;
        }
      }
    }
    return hold;
  }

  stream(): StreamRedactor {
    return new StreamRedactor(this);
  }
}

/** Nothing held back: one empty buffer, not a new one per chunk of output (it is never written to). */
const NOTHING = Buffer.alloc(0);

/**
 * Redacts output that arrives in chunks, where a secret may be split between two of them: the
 * few bytes at a chunk's end that could begin a secret wait for the next chunk. Usually none do.
 */
export class StreamRedactor {
  private carry: Buffer = NOTHING;

  constructor(private readonly redactor: Redactor) {}

  /** The bytes that can be stored now. */
  push(chunk: Buffer): Buffer {
    const data = this.redactor.bytes(this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]));
    const hold = this.redactor.heldBack(data);
    this.carry = hold === 0 ? NOTHING : Buffer.from(data.subarray(data.length - hold));
    return hold === 0 ? data : data.subarray(0, data.length - hold);
  }

  /** What was held back, once no more output will come. */
  end(): Buffer {
    const rest = this.carry;
    this.carry = NOTHING;
    return rest;
  }
}
