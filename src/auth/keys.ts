// Named keys: HASH (the operator's, named HASH) and those of KEYS_FILE, one per line,
// `<name> <secret> [user=<command user>] [approve=always]`. A presented key is compared with
// each in constant time. Reloaded on SIGHUP and when the file changes: a removed key fails
// from then on. A malformed line (an unknown option, a user that cannot be one) is reported by
// its number (never its secret) and left out: a key whose options cannot be honoured opens
// nothing. Pure but for reading the file.
import crypto from 'node:crypto';
import fs from 'node:fs';

export const OPERATOR_KEY = 'HASH';
export const KEY_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const SECRET = /^[\x21-\x7e]{32,}$/;
/** A user name as useradd takes it. */
export const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}\$?$/i;

export interface KeyProblem {
  readonly line: number;
  readonly problem: string;
}

/** What a key's line says besides its secret. */
export interface KeyOptions {
  /** Its commands' user; null: COMMAND_USER (or the server's own user). */
  readonly user: string | null;
  /** Every command waits for a person's approval. */
  readonly approve: boolean;
}

export const NO_OPTIONS: KeyOptions = { user: null, approve: false };

export interface KeyEntry {
  readonly secret: string;
  readonly options: KeyOptions;
}

/** The options after the secret, or what is wrong with them. */
function parseOptions(words: readonly string[]): KeyOptions | string {
  let user: string | null = null;
  let approve = false;
  const seen = new Set<string>();
  for (const word of words) {
    const [option, ...rest] = word.split('=');
    const value = rest.join('=');
    if (option === undefined || !word.includes('=') || (option !== 'user' && option !== 'approve')) {
      return `unknown option "${word.slice(0, 40)}": a key's line is "<name> <secret> [user=<command user>] [approve=always]"`;
    }
    if (seen.has(option)) return `${option}= is given twice`;
    seen.add(option);
    if (option === 'user') {
      if (!USER_NAME.test(value)) return `user=${value.slice(0, 40)} is not a user name`;
      user = value;
    } else {
      if (value !== 'always') return `approve=${value.slice(0, 40)}: the one value is approve=always (leave it out for no approvals)`;
      approve = true;
    }
  }
  return { user, approve };
}

/**
 * Parses a keys file's text; the secrets never appear in a problem. `checkUser` says what is
 * wrong with a `user=` (it does not exist, is root or the server's own, could change the code),
 * or undefined when it can run commands.
 */
export function parseKeys(text: string, checkUser: (user: string) => string | undefined = () => undefined): { keys: Map<string, KeyEntry>; problems: KeyProblem[] } {
  const keys = new Map<string, KeyEntry>();
  const problems: KeyProblem[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [name, secret, ...words] = line.split(/\s+/);
    const number = index + 1;
    const options = parseOptions(words);
    if (name === undefined || secret === undefined) problems.push({ line: number, problem: 'expected "<name> <secret> [options]"' });
    else if (!KEY_NAME.test(name)) problems.push({ line: number, problem: 'the name must be 1 to 64 letters, digits, _ or -' });
    else if (name === OPERATOR_KEY) problems.push({ line: number, problem: `the name ${OPERATOR_KEY} is the operator's key (HASH)` });
    else if (!SECRET.test(secret)) problems.push({ line: number, problem: 'the secret must be 32 or more printable characters without spaces' });
    else if (keys.has(name)) problems.push({ line: number, problem: `the name ${name} is given twice; the first is kept` });
    else if (typeof options === 'string') problems.push({ line: number, problem: options });
    else {
      const userProblem = options.user === null ? undefined : checkUser(options.user);
      if (userProblem !== undefined) problems.push({ line: number, problem: userProblem });
      else keys.set(name, { secret, options });
    }
  });
  return { keys, problems };
}

interface Key {
  readonly name: string;
  readonly secret: string;
  readonly bytes: Buffer;
  readonly options: KeyOptions;
}

const toKey = (name: string, secret: string, options: KeyOptions = NO_OPTIONS): Key => ({ name, secret, bytes: Buffer.from(secret, 'utf8'), options });

export class Keyring {
  private keys: Key[] = [];

  constructor(
    private readonly hash: string,
    private readonly file: string | null,
    /** What is wrong with a key's `user=`, if anything (parseKeys). */
    private readonly checkUser: (user: string) => string | undefined = () => undefined,
  ) {
    this.keys = [toKey(OPERATOR_KEY, hash)];
  }

  /** (Re)reads KEYS_FILE. Throws when the file cannot be read at all; bad lines are only reported. */
  load(): KeyProblem[] {
    if (this.file === null) return [];
    const { keys, problems } = parseKeys(fs.readFileSync(this.file, 'utf8'), this.checkUser);
    this.keys = [toKey(OPERATOR_KEY, this.hash), ...[...keys].map(([name, entry]) => toKey(name, entry.secret, entry.options))];
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

  /** A key's options (HASH: none); undefined once the key is gone. */
  optionsOf(name: string): KeyOptions | undefined {
    return this.keys.find((key) => key.name === name)?.options;
  }

  names(): string[] {
    return this.keys.map((key) => key.name);
  }

  /** Every secret, for redaction. */
  secrets(): string[] {
    return this.keys.map((key) => key.secret);
  }
}
