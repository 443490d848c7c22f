// Reads the shell state a command's bash hands back on fd 3 (see prelude.ts): its working
// directory and a NUL, then the output of `export -p` (one builtin, so saving costs no time),
// then an end line. `export -p` prints `declare -x NAME="value"` (with \ before " \ $ and `),
// or `declare -x NAME=$'value'` (ANSI-C quoting) when the value holds unprintable characters,
// or `declare -x NAME` for a variable exported without a value. Pure; a state that is
// incomplete or not in this form is refused, and the previous one stands. The agent can write
// anything there, but only into its own session's state, and the server's own variables are
// never taken from it.
export interface SavedShell {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

export const STATE_END = '# llmass-state-end\n';
const DECLARE = /declare -[-a-zA-Z]+ ([A-Za-z_][A-Za-z0-9_]*)/y;
/**
 * Never carried from one command to the next: what the server sets for each command, and SHLVL,
 * bash's count of shells started inside each other (each command starts one, so carried it would
 * grow by one per command, and the state would change with every command).
 */
const NOT_CARRIED = /^(LLMASS_TICKET|LLMASS_MAX_PROCESSES|LLMASS_MAX_MEMORY_KB|LLMASS_CWD|BASH_ENV|SHLVL)$|^BASH_FUNC_|^LLMASS_KEEP_/;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Whether a saved variable may be carried to the next command: a real name, not one the server or bash sets. */
export function isCarriedVariable(name: string): boolean {
  return VARIABLE_NAME.test(name) && !NOT_CARRIED.test(name);
}

const ANSI_C: Readonly<Record<string, number>> = { a: 7, b: 8, e: 27, E: 27, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, "'": 39, '"': 34, '?': 63 };

/** Parses a double-quoted value from `i` (after the opening quote); the value and where it ends. */
function doubleQuoted(text: string, start: number): [string, number] | undefined {
  let value = '';
  for (let i = start; i < text.length; i += 1) {
    const c = text[i];
    if (c === '"') return [value, i + 1];
    if (c === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1] ?? '')) {
      value += text[i + 1];
      i += 1;
    } else value += c;
  }
  return undefined;
}

/** Parses an ANSI-C quoted value ($'…') from `i` (after the opening quote). */
function ansiC(text: string, start: number): [string, number] | undefined {
  let value = '';
  for (let i = start; i < text.length; i += 1) {
    const c = text[i] ?? '';
    if (c === "'") return [value, i + 1];
    if (c !== '\\') {
      value += c;
      continue;
    }
    const next = text[i + 1] ?? '';
    const simple = ANSI_C[next];
    if (simple !== undefined) {
      value += String.fromCharCode(simple);
      i += 1;
    } else if (/[0-7]/.test(next)) {
      const digits = /^[0-7]{1,3}/.exec(text.slice(i + 1, i + 4))?.[0] ?? '';
      value += String.fromCharCode(parseInt(digits, 8) & 0xff);
      i += digits.length;
    } else if (next === 'x') {
      const digits = /^[0-9a-fA-F]{1,2}/.exec(text.slice(i + 2, i + 4))?.[0] ?? '';
      if (digits === '') return undefined;
      value += String.fromCharCode(parseInt(digits, 16));
      i += 1 + digits.length;
    } else if (next === 'c') {
      value += String.fromCharCode((text.charCodeAt(i + 2) & 0x1f) >>> 0);
      i += 2;
    } else {
      value += `\\${next}`;
      i += 1;
    }
  }
  return undefined;
}

/**
 * The state, or undefined when it is incomplete or malformed. `text` is the bytes as latin1
 * (one character per byte), so that octal escapes of UTF-8 bytes come out right.
 */
export function parseShellState(bytes: Buffer): SavedShell | undefined {
  const text = bytes.toString('latin1');
  if (!text.endsWith(STATE_END)) return undefined;
  const nul = text.indexOf('\0');
  if (nul <= 0) return undefined;
  const utf8 = (value: string): string => Buffer.from(value, 'latin1').toString('utf8');
  const cwd = utf8(text.slice(0, nul));
  if (!cwd.startsWith('/')) return undefined;
  const body = text.slice(nul + 1, text.length - STATE_END.length);
  const env: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    DECLARE.lastIndex = i;
    const match = DECLARE.exec(body);
    if (match?.[1] === undefined) return undefined;
    const name = match[1];
    i = DECLARE.lastIndex;
    if (body[i] === '\n') {
      i += 1; // exported without a value: nothing to carry
      continue;
    }
    let parsed: [string, number] | undefined;
    if (body.startsWith('="', i)) parsed = doubleQuoted(body, i + 2);
    else if (body.startsWith("=$'", i)) parsed = ansiC(body, i + 3);
    if (parsed === undefined || body[parsed[1]] !== '\n') return undefined;
    i = parsed[1] + 1;
    if (isCarriedVariable(name)) env[name] = utf8(parsed[0]);
  }
  return { cwd, env };
}
