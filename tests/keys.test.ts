// Keys and links: named keys from KEYS_FILE, reloaded on SIGHUP; answers that never echo a key
// (their ready URLs carry tokens, each of which works as given); tokens scoped to one session
// and one kind, voided by time and by removing their key; read-only view links.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, stopAll, tempDir, until, waitFinal, type Answer, type TestServer } from './helpers/server.js';

const alice = crypto.randomBytes(24).toString('base64url');
const bob = crypto.randomBytes(24).toString('base64url');
let server: TestServer;
let keysFile = '';

/** A GET with only the credential given (no hash added). */
function as(key: string, pathAndQuery: string): Promise<Answer> {
  return server.get(pathAndQuery, { auth: false, headers: { Authorization: `Bearer ${key}` } });
}
const local = (url: string): string => url.replace(/^http:\/\/localhost:\d+/, '');
const plain = (url: string): Promise<Answer> => server.get(local(url), { auth: false });

beforeAll(async () => {
  const dir = tempDir();
  keysFile = path.join(dir, 'keys');
  fs.writeFileSync(keysFile, `# agents\nalice ${alice}\nbob ${bob}\nbroken-line\ncarol short\n`);
  // Readable by others whatever the umask the tests run under (the unit's is 0077).
  fs.chmodSync(keysFile, 0o644);
  server = await startServer({ dir, env: { KEYS_FILE: keysFile, AUTH_MAX_FAILURES: '50' } });
});
afterAll(stopAll);

describe('named keys', () => {
  it('authenticate like HASH, and audit lines and /sessions name them', async () => {
    const a = await as(alice, '/shell?session=alices&wait=10&cmd=echo%20a');
    const b = await server.get(`/shell?hash=${bob}&session=bobs&wait=10&cmd=echo%20b`, { auth: false });
    expect([a.json.output, b.json.output]).toEqual(['a\n', 'b\n']);
    const audit = fs.readFileSync(path.join(server.sessionsDir, 'audit.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(audit.filter((line) => line.event === 'accepted').map((line) => `${line.session}:${line.key}`)).toEqual(['alices:alice', 'bobs:bob']);
    const sessions = (await server.get('/sessions')).json.sessions;
    expect(Object.fromEntries(sessions.map((s: { session: string; key: string }) => [s.session, s.key]))).toMatchObject({ alices: 'alice', bobs: 'bob' });
  });

  it('keeps the keys file private: others\' access is taken away at start, with a log line', () => {
    expect(fs.statSync(keysFile).mode & 0o777).toBe(0o600);
    expect(server.output()).toMatch(new RegExp(`tightened permissions.*${keysFile.replaceAll('/', '\\/')}`));
  });

  it('reports a malformed line by its number, never its secret', () => {
    expect(server.output()).toMatch(/"line":4,"problem":"expected \\"<name> <secret> \[options\]\\""/);
    expect(server.output()).toMatch(/"line":5,"problem":"the secret must be 32 or more/);
    expect(server.output()).not.toContain(alice);
    expect(server.output()).not.toContain('short"');
  });
});

describe('answers', () => {
  it('never carry a key or HASH, and every ready URL in them works as given', async () => {
    const answers: Answer[] = [];
    const submitted = await as(alice, '/shell?session=links&cmd=echo%20one%3B%20sleep%200.3%3B%20seq%201%2020000');
    answers.push(submitted);
    const urls: string[] = [submitted.json.callback, submitted.json.poll];
    const result = await plain(submitted.json.poll);
    answers.push(result);
    expect(result.json.type).toBe('result');
    urls.push(result.json.shell + 'echo%20two', result.json.next_page);
    const sessions = await as(alice, '/sessions');
    answers.push(sessions);
    const entry = sessions.json.sessions.find((s: { session: string }) => s.session === 'links');
    urls.push(entry.history, entry.view, `${entry.shell}echo%20three`);
    for (const url of urls) {
      const answer = await plain(url);
      expect(answer.status, url).toBe(200);
      answers.push(answer);
    }
    answers.push(await plain(`${result.json.shell.replace('&wait=25', '&wait=0')}sleep%205`));
    const running = answers.at(-1)?.json;
    answers.push(await plain(running.cancel));
    for (const format of ['text']) answers.push(await plain(`${result.json.shell.replace('&cmd=', `&format=${format}&cmd=`)}echo%20t`));
    for (const answer of answers) {
      expect(answer.text).not.toContain(alice);
      expect(answer.text).not.toContain(server.hash);
    }
  });

  it('keep showing /context with the key that fetched it', async () => {
    const page = await as(alice, '/context?format=md');
    expect(page.text).toContain(`hash=${alice}`);
    expect(page.text).not.toContain(server.hash);
  });
});

describe('tokens', () => {
  it('are refused on another session, and beyond their kind', async () => {
    const mine = (await as(alice, '/shell?session=scoped&wait=10&cmd=true')).json;
    const token = /token=([^&]+)/.exec(mine.shell)?.[1] ?? '';
    await as(alice, '/shell?session=other&wait=10&cmd=true');
    const elsewhere = await server.get(`/callback?token=${token}&session=other&ticket=1`, { auth: false });
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.json.hint).toMatch(/session=scoped/);
    const sessions = await server.get(`/sessions?token=${token}`, { auth: false });
    expect(sessions.status).toBe(403);
  });

  it('give a read-only view link that shows the page and history but can neither submit nor cancel', async () => {
    await as(alice, '/shell?session=watched&wait=10&cmd=echo%20seen');
    const entry = (await as(alice, '/sessions')).json.sessions.find((s: { session: string }) => s.session === 'watched');
    const page = await plain(entry.view);
    expect(page.status).toBe(200);
    expect(page.text).toContain('seen');
    const token = /token=([^&]+)/.exec(entry.view)?.[1] ?? '';
    expect(token.startsWith('r.watched.alice.')).toBe(true);
    const history = await server.get(`/history?token=${token}&session=watched`, { auth: false });
    expect(history.json[0].output).toBe('seen\n');
    for (const [endpoint, params] of [['/shell', 'cmd=echo%20no'], ['/cancel', 'ticket=1']]) {
      const refused = await server.get(`${endpoint}?token=${token}&session=watched&${params}`, { auth: false });
      expect(refused.status, endpoint).toBe(403);
      expect(refused.json.error).toMatch(/read-only link/);
    }
    expect(fs.readdirSync(path.join(server.sessionsDir, 'watched')).filter((name) => name.endsWith('.ticket'))).toEqual(['1.ticket']);
  });

  it('are redacted from the audit log and stored commands', async () => {
    const mine = (await as(alice, '/shell?session=pasted&wait=10&cmd=true')).json;
    const token = /token=([^&]+)/.exec(mine.shell)?.[1] ?? '';
    const echoed = await as(alice, `/shell?session=pasted&wait=10&cmd=${encodeURIComponent(`: ${token} ${alice}`)}`);
    expect(echoed.json.input).toBe(': REDACTED REDACTED');
    expect(fs.readFileSync(path.join(server.sessionsDir, 'audit.jsonl'), 'utf8')).not.toContain(token);
  });
});

describe('revoking', () => {
  it('refuses a removed key and every token it minted within a second of SIGHUP; the others work on', async () => {
    const bobs = (await as(bob, '/shell?session=revoked&wait=10&cmd=echo%20before')).json;
    const alices = (await as(alice, '/shell?session=kept&wait=10&cmd=echo%20before')).json;
    fs.writeFileSync(keysFile, `alice ${alice}\n`);
    server.proc.kill('SIGHUP');
    expect(await until(async () => (await as(bob, '/sessions')).status === 401, 1000)).toBe(true);
    const token = await plain(`${bobs.shell}echo%20after`);
    expect(token.status).toBe(401);
    expect(token.json).toMatchObject({ error: expect.stringMatching(/removed or changed/), hint: expect.stringMatching(/\/context/) });
    expect((await plain(`${alices.shell}echo%20after`)).json.output).toBe('after\n');
    expect((await server.get('/sessions')).status).toBe(200);
    expect(server.output()).not.toContain(bob);
  });
});

describe('token lifetime and lock-out', () => {
  it('refuses a token once TOKEN_TTL has passed, and counts bad tokens toward the lock-out', async () => {
    const short = await startServer({ env: { TOKEN_TTL: '1', AUTH_MAX_FAILURES: '3' } });
    const answer = (await short.get(short.url('/shell', { session: 'ttl', cmd: 'true', wait: 10 }))).json;
    await waitFinal(short, 'ttl', 1);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const expired = await short.get(local(answer.shell) + 'true', { auth: false });
    expect(expired.status).toBe(401);
    // A fresh answer hands out a fresh token, never the expired one again.
    const fresh = (await short.get(short.url('/callback', { session: 'ttl', ticket: 1 }))).json;
    expect(fresh.shell).not.toBe(answer.shell);
    expect((await short.get(local(fresh.shell) + 'true', { auth: false })).json.status).toBe('done');
    expect(expired.json.error).toMatch(/expired/);
    const forged = answer.shell.replace(/token=([^&]+)/, (_: string, t: string) => `token=${t.slice(0, -4)}AAAA`);
    for (let i = 0; i < 2; i += 1) expect((await short.get(local(forged) + 'true', { auth: false })).status).toBe(401);
    expect((await short.get(short.url('/sessions'))).status).toBe(429);
  });
});
