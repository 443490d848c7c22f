// Named keys: HASH (the operator's, named HASH) and those of KEYS_FILE, one per line,
// `<name> <secret>`. A presented key is compared with each in constant time. Reloaded on
// SIGHUP: a removed key fails from then on. A malformed line is reported by its number (never
// its secret) and left out. Pure but for reading the file.
import crypto from 'node:crypto';
import fs from 'node:fs';

export const OPERATOR_KEY = 'HASH';
export const KEY_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const SECRET = /^[\x21-\x7e]{32,}$/;

export interface KeyProblem {
  readonly line: number;
  readonly problem: string;
}

/** Parses a keys file's text; the secrets never appear in a problem. */
export function parseKeys(text: string): { keys: Map<string, string>; problems: KeyProblem[] } {
  const keys = new Map<string, string>();
  const problems: KeyProblem[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const parts = line.split(/\s+/);
    const [name, secret] = parts;
    const number = index + 1;
    if (parts.length !== 2 || name === undefined || secret === undefined) problems.push({ line: number, problem: 'expected "<name> <secret>"' });
    else if (!KEY_NAME.test(name)) problems.push({ line: number, problem: 'the name must be 1 to 64 letters, digits, _ or -' });
    else if (name === OPERATOR_KEY) problems.push({ line: number, problem: `the name ${OPERATOR_KEY} is the operator's key (HASH)` });
    else if (!SECRET.test(secret)) problems.push({ line: number, problem: 'the secret must be 32 or more printable characters without spaces' });
    else if (keys.has(name)) problems.push({ line: number, problem: `the name ${name} is given twice; the first is kept` });
    else keys.set(name, secret);
  });
  return { keys, problems };
}

interface Key {
  readonly name: string;
  readonly secret: string;
  readonly bytes: Buffer;
}

const toKey = (name: string, secret: string): Key => ({ name, secret, bytes: Buffer.from(secret, 'utf8') });

export class Keyring {
  private keys: Key[] = [];

  constructor(
    private readonly hash: string,
    private readonly file: string | null,
  ) {
    this.keys = [toKey(OPERATOR_KEY, hash)];
  }

  /** (Re)reads KEYS_FILE. Throws when the file cannot be read at all; bad lines are only reported. */
  load(): KeyProblem[] {
    if (this.file === null) return [];
    const { keys, problems } = parseKeys(fs.readFileSync(this.file, 'utf8'));
    this.keys = [toKey(OPERATOR_KEY, this.hash), ...[...keys].map(([name, secret]) => toKey(name, secret))];
    return problems;
  }

  /**
   * The name of the key `presented` is, or undefined. Every key is compared, in constant time
   * (timingSafeEqual on the bytes; a key of another length is compared with itself, so that
   * the time spent does not depend on where a guess first differs). No hashing per request:
   * the comparison reveals at most whether some key has the guess's length.
   */
  match(presented: string): string | undefined {
    const candidate = Buffer.from(presented, 'utf8');
    let found: string | undefined;
    for (const key of this.keys) {
      const sameLength = candidate.length === key.bytes.length;
      const equal = crypto.timingSafeEqual(sameLength ? candidate : key.bytes, key.bytes) && sameLength;
      if (equal && found === undefined) found = key.name;
    }
    return found;
  }

  /** The current secret of a key, for tokens bound to it; undefined once the key is gone. */
  secretOf(name: string): string | undefined {
    return this.keys.find((key) => key.name === name)?.secret;
  }

  names(): string[] {
    return this.keys.map((key) => key.name);
  }

  /** Every secret, for redaction. */
  secrets(): string[] {
    return this.keys.map((key) => key.secret);
  }
}
