// Editing KEYS_FILE for `llmass keys`: add a key with a fresh secret, remove one, list the
// names. Every change is written whole to a temp file beside it (mode 0600) and renamed over
// it: the running server, which reads the file again when it changes, never sees half of one,
// and a failed write leaves the file as it was.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { KEY_NAME, OPERATOR_KEY, parseKeys, type KeyOptions } from './keys.js';

export class KeysFileError extends Error {}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new KeysFileError(`${file} cannot be read: ${(error as Error).message}`);
  }
}

function replace(file: string, text: string): void {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(temp, text, { mode: 0o600, flag: 'wx' });
    fs.renameSync(temp, file);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw new KeysFileError(`${file} cannot be written: ${(error as Error).message}`);
  }
}

/** The keys in the file, in its order, with their options (never their secrets). */
export function listKeys(file: string): Array<{ readonly name: string; readonly options: KeyOptions }> {
  return [...parseKeys(readText(file)).keys].map(([name, entry]) => ({ name, options: entry.options }));
}

/** A key's options as its line in KEYS_FILE writes them (and `llmass keys list` shows them). */
export function optionWords(options: KeyOptions): string {
  return [options.user === null ? '' : `user=${options.user}`, options.approve ? 'approve=always' : ''].filter(Boolean).join(' ');
}

/**
 * Adds `name` with a fresh secret, which is returned (and shown nowhere else). `checkUser` says
 * what is wrong with `options.user`, if anything: a key is not added that the server would leave out.
 */
export function addKey(file: string, name: string, options: KeyOptions = { user: null, approve: false }, checkUser: (user: string) => string | undefined = () => undefined): string {
  if (!KEY_NAME.test(name)) throw new KeysFileError(`"${name.slice(0, 80)}" is not a key name: use 1 to 64 letters, digits, _ or -`);
  if (name === OPERATOR_KEY) throw new KeysFileError(`${OPERATOR_KEY} is the operator's key, set in .env: choose another name`);
  const text = readText(file);
  if (parseKeys(text).keys.has(name)) throw new KeysFileError(`a key named ${name} exists already: remove it first, or choose another name`);
  const secret = crypto.randomBytes(36).toString('base64url');
  const line = [name, secret, optionWords(options)].filter(Boolean).join(' ');
  // The new line is checked as the server will read it, options and user included.
  const problem = parseKeys(line, checkUser).problems[0];
  if (problem !== undefined) throw new KeysFileError(`the key was not added: ${problem.problem}`);
  replace(file, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${line}\n`);
  return secret;
}

/** Removes `name`'s line; its secret and every token it made stop working. */
export function removeKey(file: string, name: string): void {
  const text = readText(file);
  if (!parseKeys(text).keys.has(name)) throw new KeysFileError(`there is no key named ${name} in ${file}: llmass keys list shows them`);
  const kept = text.split('\n').filter((line) => line.trim().split(/\s+/)[0] !== name);
  replace(file, kept.join('\n'));
}
