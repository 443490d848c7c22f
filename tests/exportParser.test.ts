// The shell state parser against what real bash prints: every kind of value export -p quotes
// (double quotes, ANSI-C $'…', multi-byte text, control bytes), read back exactly.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseShellState } from '../src/running/exportParser.js';

const PRELUDE = fs.readFileSync(new URL('../src/running/prelude.bash', import.meta.url), 'utf8');

const VALUES: Record<string, string> = {
  PLAIN: 'plain value',
  QUOTES: 'a"b$c\\d`e\'f',
  NEWLINE: 'line one\nline two',
  CONTROL: 'tab\tbell\x07esc\x1bdel\x7fone\x01',
  UNICODE: 'ü € 😀',
  MIXED: 'ü\nnext $HOME \\ "q"',
  EMPTY: '',
  BACKSLASH_N: 'literal \\n not a newline',
};

describe('parseShellState', () => {
  it('reads back every exported value bash holds, as bash prints it with export -p', () => {
    const script = `${PRELUDE.replace(/^builtin read -r -u "\$__llmass_state" __llmass_go.*$/m, '').replace(/^if \[ "\$__llmass_n".*$/m, '').replace(/^builtin printf 'started.*$/m, '')}\n${Object.entries(VALUES)
      .map(([name, value]) => `export ${name}=$'${[...Buffer.from(value)].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}'`)
      .join('\n')}\nexport NOVALUE; cd /tmp\n`;
    const out = execFileSync('/bin/bash', ['-c', `exec 3>&1; ${script}`], { env: { PATH: process.env.PATH, LANG: 'C.UTF-8' } });
    const state = parseShellState(out);
    expect(state?.cwd).toBe('/tmp');
    for (const [name, value] of Object.entries(VALUES)) expect(state?.env[name], name).toBe(value);
    expect(state?.env).not.toHaveProperty('NOVALUE');
    expect(state?.env).not.toHaveProperty('BASH_ENV');
  });

  it('refuses a state that is cut short or not in export -p form', () => {
    const good = Buffer.from('/tmp\0declare -x A="1"\n# llmass-state-end\n');
    expect(parseShellState(good)?.env).toEqual({ A: '1' });
    expect(parseShellState(good.subarray(0, good.length - 3))).toBeUndefined();
    expect(parseShellState(Buffer.from('/tmp\0rm -rf /\n# llmass-state-end\n'))).toBeUndefined();
    expect(parseShellState(Buffer.from('/tmp\0declare -x A="unclosed\n# llmass-state-end\n'))).toBeUndefined();
    expect(parseShellState(Buffer.from('/tmp\0declare -x LLMASS_TICKET="x"\n# llmass-state-end\n'))?.env).toEqual({});
  });
});
