// Pure modules on their own, with injected clocks and real temp files: de-duplication, query
// parsing and parameters, and the output spool (ring, redaction, a write that fails).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Dedup } from '../src/scheduling/replays.js';
import { loadConfig } from '../src/config/config.js';
import { submissionIdentity } from '../src/http/params.js';
import { parseQuery } from '../src/http/query.js';
import { OutputSpool, recoverSpool, storedText } from '../src/storage/spool.js';
import { requireCommand, requireTicket } from '../src/http/params.js';
import { Redactor } from '../src/logging/redact.js';
import { stopAll, tempDir } from './helpers/server.js';
import { statusOf } from './helpers/status.js';

afterEach(stopAll);

const request = (input: string, nonce: string | null = null) => ({ input, timeout: 300, idle_timeout: null, nonce });

describe('Dedup', () => {
  const stored = Promise.resolve();
  it('replays only the latest submission of a session, identical, unfinished or finished within the window', () => {
    let now = 0;
    const dedup = new Dedup(60_000, () => now);
    const ls = submissionIdentity(new Map([['session', 's'], ['cmd', 'ls']]));
    dedup.remember('s', 's', 1, ls, stored, 'K');
    expect(dedup.find('s', ls, 'K')?.ticket).toBe(1);
    expect(dedup.find('s', submissionIdentity(new Map([['session', 's'], ['cmd', 'ls'], ['nonce', '2']])), 'K')).toBeUndefined();
    expect(dedup.find('s', submissionIdentity(new Map([['session', 's'], ['cmd64', 'bHM']])), 'K')).toBeUndefined();
    expect(dedup.find('t', ls, 'K')).toBeUndefined();
    // Unfinished: a replay however late.
    now = 600_000;
    expect(dedup.find('s', ls, 'K')?.ticket).toBe(1);
    dedup.finished('s', 1);
    now += 59_999;
    expect(dedup.find('s', ls, 'K')?.ticket).toBe(1);
    now += 1;
    expect(dedup.find('s', ls, 'K')).toBeUndefined();
  });

  it('never replays once something else was submitted to the session, and forgets a failed one', () => {
    const dedup = new Dedup(60_000, () => 0);
    const run = submissionIdentity(new Map([['session', 's'], ['cmd', 'python3 main.py']]));
    const edit = submissionIdentity(new Map([['session', 's'], ['cmd', 'sed -i s/a/b/ main.py']]));
    dedup.remember('s', 's', 1, run, stored, 'K');
    dedup.remember('s', 's', 2, edit, stored, 'K');
    expect(dedup.find('s', run, 'K')).toBeUndefined();
    const fresh = submissionIdentity(new Map([['cmd', 'pwd']]));
    dedup.remember(undefined, 'new1', 1, fresh, stored, 'K');
    expect(dedup.find(undefined, fresh, 'K')?.session).toBe('new1');
    expect(dedup.find(undefined, submissionIdentity(new Map([['cmd', 'pwd'], ['wait', '5']])), 'K')).toBeUndefined();
    dedup.remember('new1', 'new1', 2, submissionIdentity(new Map([['session', 'new1'], ['cmd', 'ls']])), stored, 'K');
    expect(dedup.find(undefined, fresh, 'K')).toBeUndefined();
    dedup.remember(undefined, 'new2', 1, fresh, stored, 'K');
    dedup.forget('new2', 1);
    expect(dedup.find(undefined, fresh, 'K')).toBeUndefined();
    expect(dedup.find('new2', fresh, 'K')).toBeUndefined();
  });
});

describe('Dedup per key', () => {
  it('gives each key its own sessionless slot, and never replays one key\'s submission to another', () => {
    const dedup = new Dedup(10_000, () => 0);
    const pwd = submissionIdentity(new Map([['cmd', 'pwd']]));
    dedup.remember(undefined, 'a1', 1, pwd, Promise.resolve(), 'alice');
    dedup.remember(undefined, 'b1', 1, pwd, Promise.resolve(), 'bob');
    expect(dedup.find(undefined, pwd, 'alice')?.session).toBe('a1');
    expect(dedup.find(undefined, pwd, 'bob')?.session).toBe('b1');
    expect(dedup.find(undefined, pwd, 'carol')).toBeUndefined();
    const ls = submissionIdentity(new Map([['session', 's'], ['cmd', 'ls']]));
    dedup.remember('s', 's', 1, ls, Promise.resolve(), 'alice');
    expect(dedup.find('s', ls, 'bob')).toBeUndefined();
    expect(dedup.find('s', ls, 'alice')?.ticket).toBe(1);
  });

  it('replays a finished ticket for DEDUP_WINDOW, 10 s unless set', () => {
    expect(loadConfig({ HASH: 'h'.repeat(40) }, '/').dedupWindow).toBe(10);
  });
});

describe('query parsing', () => {
  it('decodes each value exactly once, with + as a space, and refuses what it cannot read', () => {
    const q = parseQuery('cmd=echo+a%2Bb%20%25&session=x&empty');
    expect(q.get('cmd')).toBe('echo a+b %');
    expect(q.get('empty')).toBe('');
    expect(statusOf(() => parseQuery('cmd=%E0%A4%A'))).toBe(400);
    expect(statusOf(() => parseQuery('cmd=a&cmd=b'))).toBe(400);
  });

  it('takes commands up to 128 KiB and answers 414 beyond; tickets in decimal digits only', () => {
    expect(requireCommand(new Map([['cmd', 'x'.repeat(128 * 1024)]]))).toHaveLength(128 * 1024);
    expect(statusOf(() => requireCommand(new Map([['cmd', 'x'.repeat(128 * 1024 + 1)]])))).toBe(414);
    expect(statusOf(() => requireCommand(new Map([['cmd', 'a\0b']])))).toBe(400);
    expect(requireTicket(new Map([['ticket', '12']]))).toBe(12);
    for (const bad of ['0', '-1', '1e3', '0x10', ' 1', '']) expect(statusOf(() => requireTicket(new Map([['ticket', bad]])))).toBe(400);
  });
});

describe('OutputSpool', () => {
  it('keeps head and tail within MAX_OUTPUT_BYTES on disk, and a dead server\'s spool reads the same', () => {
    const file = path.join(tempDir(), '.1.out');
    const spool = new OutputSpool(file, 1000, new Redactor([]));
    const text = Array.from({ length: 400 }, (_, i) => `${i}\n`).join('');
    for (let i = 0; i < text.length; i += 37) spool.append(Buffer.from(text.slice(i, i + 37)));
    spool.endInput();
    expect(spool.total).toBe(Buffer.byteLength(text));
    expect(spool.truncated).toBe(true);
    const stored = storedText(spool);
    expect(stored.startsWith(text.slice(0, 500))).toBe(true);
    expect(stored.endsWith(text.slice(-500))).toBe(true);
    expect(stored).toMatch(/\[llmass: \d+ bytes of output were not stored \(dropped for good\)/);
    expect(fs.statSync(file).size).toBeLessThanOrEqual(1000 + 16);
    expect(recoverSpool(file, 1000)).toEqual({ output: stored, total: Buffer.byteLength(text), truncated: true, dropped: Buffer.byteLength(text) - 1000 });
    expect(spool.dropped).toBe(Buffer.byteLength(text) - 1000);
    spool.remove();
    expect(fs.existsSync(file)).toBe(false);
  });

  it('replaces a link planted at its name instead of writing through it', () => {
    const dir = tempDir();
    const target = path.join(dir, 'target');
    fs.writeFileSync(target, 'keep me');
    const file = path.join(dir, '.1.out');
    fs.symlinkSync(target, file);
    const spool = new OutputSpool(file, 1000, new Redactor([]));
    spool.append(Buffer.from('hello'));
    expect(storedText(spool)).toBe('hello');
    expect(fs.readFileSync(target, 'utf8')).toBe('keep me');
    expect(fs.lstatSync(file).isSymbolicLink()).toBe(false);
    spool.remove();
  });

  it('stops storing when a write fails, keeps counting, and says so in the output', () => {
    const dir = tempDir();
    // A spool whose directory is gone: its first write fails, as on a full disk.
    const spool = new OutputSpool(path.join(dir, 'missing', '.1.out'), 1000, new Redactor([]));
    spool.append(Buffer.from('lost'));
    spool.append(Buffer.from('also lost'));
    expect(spool.total).toBe(13);
    expect(spool.truncated).toBe(true);
    expect(storedText(spool)).toBe('\n[llmass: output after byte 0 was not stored: the spool could not be written (ENOENT)]\n');
  });
});

describe('keys and tokens', () => {
  it('matches a presented key in constant time to its name, whatever its length', async () => {
    const { Keyring } = await import('../src/auth/keys.js');
    const ring = new Keyring('h'.repeat(40), null);
    expect(ring.match('h'.repeat(40))).toBe('HASH');
    for (const guess of ['h'.repeat(39), 'h'.repeat(41), 'x'.repeat(40), '']) expect(ring.match(guess)).toBeUndefined();
  });

  it('reuses a minted token for a minute, mints anew after, and forgets all when the keys change', async () => {
    const { TokenCache, TokenSigner } = await import('../src/auth/tokens.js');
    let now = 1_000_000_000;
    let secret: string | undefined = 'k'.repeat(40);
    const signer = new TokenSigner('h'.repeat(40), () => secret, () => now);
    const cache = new TokenCache(signer, 3600, () => now);
    const first = cache.get('agent', 's1', 'exec');
    now += 59_000;
    expect(cache.get('agent', 's1', 'exec')).toBe(first);
    expect(cache.get('agent', 's1', 'read')).not.toBe(first);
    now += 2_000;
    const second = cache.get('agent', 's1', 'exec');
    expect(second).not.toBe(first);
    expect(signer.verify(second)).toMatchObject({ ok: true, token: { session: 's1', key: 'agent', access: 'exec' } });
    secret = undefined;
    expect(signer.verify(second)).toEqual({ ok: false, problem: 'revoked' });
    now += 3_600_000;
    secret = 'k'.repeat(40);
    expect(signer.verify(second)).toEqual({ ok: false, problem: 'expired' });
    cache.clear();
    expect(cache.get('agent', 's1', 'exec')).not.toBe(second);
  });
});

