// Files in and out of the host: GET /file (whole, parts, text, ETag), /upload by GET chunks
// (idempotent by offset, done=1 with sha256) and by PUT, MCP's read_file and write_file; every
// bad input a clear 4xx that touches nothing; transfers behind the session's running command
// and in the audit log; and, under the unit as shipped with COMMAND_USER, the command user's
// reach and no more. The 2 MiB round trip is measured (requests and bytes each way).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callTool, closeInProcessApps, inProcessApp, type InProcessApp } from './helpers/inProcess.js';
import { makeAgentUser, type AgentUser } from './helpers/agentUser.js';
import { stopAll, type TestServer } from './helpers/server.js';
import { startAsUnit } from './helpers/unit.js';

afterEach(closeInProcessApps);

const CHUNK = 96 * 1024;
const sha = (bytes: Buffer): string => crypto.createHash('sha256').update(bytes).digest('hex');

interface Upload {
  bytes: number;
  sha256: string;
  done: boolean;
  next: string;
}

/** A session whose working directory is a fresh directory of its own. */
async function sessionIn(server: InProcessApp, name: string): Promise<string> {
  const dir = path.join(server.dir, `work-${name}`);
  fs.mkdirSync(dir);
  const answer = await server.get('/shell', { session: name, cmd: `cd ${dir}`, wait: 10 });
  expect(answer.json<{ status: string }>().status).toBe('done');
  return dir;
}

describe('moving a 2 MiB file on and off the host', () => {
  it('takes at most 30 GET requests on and 1 off, reading back at most 1.4x the file each way; 1 PUT', async () => {
    const server = await inProcessApp();
    const dir = await sessionIn(server, 'mv');
    const file = crypto.randomBytes(2 * 1024 * 1024);
    let requests = 0;
    let readBack = 0;
    let last: Upload | undefined;
    for (let offset = 0; offset < file.length; offset += CHUNK) {
      const part = file.subarray(offset, offset + CHUNK);
      const isLast = offset + CHUNK >= file.length;
      const answer = await server.get('/upload', { session: 'mv', path: 'blob.bin', offset, data64: part.toString('base64url'), ...(isLast ? { done: 1, sha256: sha(file) } : {}) });
      requests += 1;
      readBack += Buffer.byteLength(answer.body);
      expect(answer.status, answer.body).toBe(200);
      last = answer.json<Upload>();
    }
    expect(last).toMatchObject({ done: true, bytes: file.length, sha256: sha(file) });
    expect(fs.readFileSync(path.join(dir, 'blob.bin')).equals(file)).toBe(true);
    expect(requests).toBeLessThanOrEqual(30);
    expect(readBack).toBeLessThanOrEqual(1.4 * file.length);

    const down = await server.app.inject({ url: `/file?hash=${server.hash}&session=mv&path=blob.bin` });
    expect(down.status).toBe(200);
    expect(down.headers['content-length']).toBe(String(file.length));
    expect(down.raw.equals(file)).toBe(true);
    expect(down.raw.length).toBeLessThanOrEqual(1.4 * file.length);

    const put = await server.app.inject({ method: 'PUT', url: `/upload?hash=${server.hash}&session=mv&path=put.bin&sha256=${sha(file)}`, body: file });
    expect(put.json<Upload>()).toMatchObject({ done: true, bytes: file.length, sha256: sha(file) });
    expect(fs.readFileSync(path.join(dir, 'put.bin')).equals(file)).toBe(true);
    process.stdout.write(`files.test.ts: 2 MiB on by GET: ${requests} requests, ${readBack} bytes read back; off: 1 request, ${down.raw.length} bytes; on by PUT: 1 request, ${put.raw.length} bytes read back\n`);
  });
});

describe('GET /file', () => {
  it('gives parts by Range and by offset/limit (206, Content-Range), an ETag that answers 304, and text', async () => {
    const server = await inProcessApp();
    const dir = await sessionIn(server, 'rd');
    fs.writeFileSync(path.join(dir, 'abc.txt'), '0123456789');
    const get = (params: Record<string, string | number>, headers: Record<string, string> = {}) => server.get('/file', { session: 'rd', path: 'abc.txt', ...params }, headers);
    const whole = await get({});
    expect(whole).toMatchObject({ status: 200, body: '0123456789' });
    expect(whole.headers['content-type']).toBe('application/octet-stream');
    const ranged = await get({}, { range: 'bytes=2-4' });
    expect(ranged).toMatchObject({ status: 206, body: '234' });
    expect(ranged.headers['content-range']).toBe('bytes 2-4/10');
    expect((await get({}, { range: 'bytes=-3' })).body).toBe('789');
    expect((await get({}, { range: 'bytes=7-' })).body).toBe('789');
    const windowed = await get({ offset: 8, limit: 5 });
    expect(windowed).toMatchObject({ status: 206, body: '89' });
    expect(windowed.headers['content-range']).toBe('bytes 8-9/10');
    const etag = String(whole.headers.etag);
    expect((await get({}, { 'if-none-match': etag })).status).toBe(304);
    fs.writeFileSync(path.join(dir, 'abc.txt'), '0123456789!');
    expect((await get({}, { 'if-none-match': etag })).status).toBe(200);
    const text = await get({ format: 'text' });
    expect(text.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(text.body).toBe('0123456789!');
  });

  it('answers what it could not read with a clear 4xx, and never a 5xx', async () => {
    const server = await inProcessApp();
    const dir = await sessionIn(server, 'bad');
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'ten'), '0123456789');
    const status = async (params: Record<string, string | number>, headers: Record<string, string> = {}) => (await server.get('/file', { session: 'bad', ...params }, headers)).status;
    expect(await status({ path: 'sub' })).toBe(400);
    expect(await status({ path: 'missing' })).toBe(404);
    expect(await status({ path: 'a\0b' })).toBe(400);
    expect(await status({ path: 'x'.repeat(4097) })).toBe(400);
    expect(await status({})).toBe(400);
    expect(await status({ path: 'ten', offset: 10 })).toBe(416);
    expect(await status({ path: 'ten' }, { range: 'bytes=20-' })).toBe(416);
    expect(await status({ path: 'ten', offset: 1 }, { range: 'bytes=1-2' })).toBe(400);
    expect(await status({ path: 'ten' }, { range: 'bytes=1-2,4-5' })).toBe(400);
    expect((await server.get('/shell', { session: 'bad', cmd: 'mkfifo fifo', wait: 10 })).json<{ exit_code: number }>().exit_code).toBe(0);
    expect(await status({ path: 'fifo' })).toBe(400);
    expect(await status({ path: 'x', session: 'nosuch' })).toBe(404);
  });

  it('waits behind the session\'s running command, and writes an audit line once sent', async () => {
    const server = await inProcessApp();
    const dir = await sessionIn(server, 'wt');
    await server.get('/shell', { session: 'wt', cmd: 'sleep 1; echo late > late.txt' });
    const answer = await server.get('/file', { session: 'wt', path: 'late.txt' });
    expect(answer).toMatchObject({ status: 200, body: 'late\n' });
    const audit = fs.readFileSync(server.config.auditLog, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(audit.find((line) => line.event === 'file_read')).toMatchObject({ session: 'wt', path: 'late.txt', bytes: 5, sha256: sha(Buffer.from('late\n')), key: 'HASH' });
    void dir;
  });
});

describe('/upload', () => {
  it('never appends a re-fetched chunk twice, refuses one out of order with the offset expected, and answers a re-fetched end the same', async () => {
    const server = await inProcessApp();
    const dir = await sessionIn(server, 'up');
    const put = (params: Record<string, string | number>) => server.get('/upload', { session: 'up', path: 'f.txt', ...params });
    const a = Buffer.from('hello ').toString('base64');
    const b = Buffer.from('world').toString('base64');
    expect((await put({ offset: 0, data64: a })).json<Upload>().bytes).toBe(6);
    expect((await put({ offset: 0, data64: a })).json<Upload>().bytes).toBe(6);
    const gap = await put({ offset: 9, data64: b });
    expect(gap.status).toBe(409);
    expect(gap.json<{ hint: string }>().hint).toMatch(/offset=6/);
    const end = await put({ offset: 6, data64: b, done: 1, sha256: sha(Buffer.from('hello world')) });
    expect(end.json<Upload>()).toMatchObject({ done: true, bytes: 11 });
    const again = await put({ offset: 6, data64: b, done: 1, sha256: sha(Buffer.from('hello world')) });
    expect(again.body).toBe(end.body);
    expect(fs.readFileSync(path.join(dir, 'f.txt'), 'utf8')).toBe('hello world');
    expect(fs.statSync(path.join(dir, 'f.txt')).mode & 0o777).toBe(0o644);
    expect(fs.readdirSync(dir).filter((name) => name.includes('llmass-upload'))).toEqual([]);
    const audit = fs.readFileSync(server.config.auditLog, 'utf8');
    expect(audit.match(/"event":"file_written"/g)).toHaveLength(1);
  });

  it('puts nothing in place on a wrong sha256 (422), past MAX_UPLOAD_BYTES (413), or where the directory is missing (404, kept for a retry)', async () => {
    const server = await inProcessApp({ MAX_UPLOAD_BYTES: '100' });
    const dir = await sessionIn(server, 'no');
    const wrong = await server.get('/upload', { session: 'no', path: 'w.txt', offset: 0, data64: Buffer.from('abc').toString('base64'), done: 1, sha256: '0'.repeat(64) });
    expect(wrong.status).toBe(422);
    expect(fs.existsSync(path.join(dir, 'w.txt'))).toBe(false);
    expect((await server.get('/upload', { session: 'no', path: 'w.txt', offset: 3, done: 1 })).status).toBe(409);
    const big = await server.get('/upload', { session: 'no', path: 'big', offset: 0, data64: Buffer.alloc(101).toString('base64') });
    expect(big.status).toBe(413);
    const bigPut = await server.app.inject({ method: 'PUT', url: `/upload?hash=${server.hash}&session=no&path=big`, body: Buffer.alloc(101) });
    expect(bigPut.status).toBe(413);
    expect(fs.existsSync(path.join(dir, 'big'))).toBe(false);
    const nowhere = await server.get('/upload', { session: 'no', path: 'nodir/x.txt', offset: 0, data64: Buffer.from('x').toString('base64'), done: 1 });
    expect(nowhere.status).toBe(404);
    expect(nowhere.json<{ hint: string }>().hint).toMatch(/mkdir -p/);
    fs.mkdirSync(path.join(dir, 'nodir'));
    expect((await server.get('/upload', { session: 'no', path: 'nodir/x.txt', offset: 1, done: 1 })).json<Upload>().done).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'nodir', 'x.txt'), 'utf8')).toBe('x');
    fs.mkdirSync(path.join(dir, 'adir'));
    expect((await server.get('/upload', { session: 'no', path: 'adir', offset: 0, done: 1 })).status).toBe(400);
    expect((await server.get('/upload', { session: 'no', path: 'm', offset: 0, done: 1, mode: '4755' })).status).toBe(400);
    expect((await server.get('/upload', { session: 'no', path: 'm', offset: 0, data64: '!!' })).status).toBe(400);
    expect((await server.app.inject({ method: 'POST', url: `/upload?hash=${server.hash}&session=no&path=m` })).headers.allow).toBe('GET, HEAD, PUT');
  });

  it('keeps nothing of an upload over a restart of the app', async () => {
    const server = await inProcessApp();
    await sessionIn(server, 'rs');
    await server.get('/upload', { session: 'rs', path: 'half', offset: 0, data64: Buffer.from('half').toString('base64') });
    const spool = path.join(server.sessionsDir, '.llmass', 'uploads');
    expect(fs.readdirSync(spool)).toHaveLength(1);
    await server.app.shutdown();
    // A new app on the same SESSIONS_DIR drops what the last one left unfinished.
    const { createApp } = await import('../src/app.js');
    const { Keyring } = await import('../src/auth/keys.js');
    const { CommandUsers } = await import('../src/running/commandUsers.js');
    const { createLogger } = await import('../src/logging/logger.js');
    const { Redactor } = await import('../src/logging/redact.js');
    const redactor = new Redactor([server.hash]);
    const next = createApp(server.config, createLogger(redactor, { write: () => true }), redactor, new Keyring(server.hash, null), new CommandUsers(null, () => undefined));
    await next.prepare();
    expect(fs.readdirSync(spool)).toEqual([]);
    await next.shutdown();
  });
});

describe('MCP read_file and write_file', () => {
  it('write a file and read it back, text as text and binary as base64', async () => {
    const server = await inProcessApp();
    const dir = await sessionIn(server, 'mc');
    const call = (name: string, args: Record<string, unknown>) => callTool(server, name, args);
    expect((await call('write_file', { session: 'mc', path: 'note.txt', content: 'a note\n' })).structured).toMatchObject({ done: true, bytes: 7 });
    expect(fs.readFileSync(path.join(dir, 'note.txt'), 'utf8')).toBe('a note\n');
    const text = await call('read_file', { session: 'mc', path: 'note.txt' });
    expect(text.text).toContain('a note\n');
    expect(text.structured).toMatchObject({ encoding: 'utf-8', size: 7 });
    expect(text.structured).not.toHaveProperty('content');
    await call('write_file', { session: 'mc', path: 'bin', content64: Buffer.from([0xff, 0x00, 0xfe]).toString('base64') });
    const binary = await call('read_file', { session: 'mc', path: 'bin' });
    expect(binary.structured).toMatchObject({ encoding: 'base64', bytes: 3 });
    expect(binary.text).toContain(Buffer.from([0xff, 0x00, 0xfe]).toString('base64'));
    expect((await call('read_file', { session: 'mc', path: 'none' })).isError).toBe(true);
  });
});

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI) throw new Error('CI runs as root: the files tests under COMMAND_USER must run there');
if (!isRoot) process.stdout.write('files.test.ts: the tests under COMMAND_USER are skipped: they make a system user and start the server as the unit does, which needs root (CI runs them as root)\n');

describe.skipIf(!isRoot)('under the unit as shipped, with COMMAND_USER', () => {
  let user: AgentUser;
  beforeAll(() => {
    user = makeAgentUser('llmf');
  });
  afterAll(async () => {
    await stopAll();
    await user.remove();
  });

  async function get(server: TestServer, pathname: string, params: Record<string, string | number>): Promise<{ status: number; text: string }> {
    const answer = await server.get(server.url(pathname, params));
    return { status: answer.status, text: answer.text };
  }

  it('reads and writes as the command user, and reaches none of the server\'s files', async () => {
    const server = await startAsUnit({ env: { COMMAND_USER: user.name } });
    await get(server, '/shell', { session: 'cu', cmd: 'echo mine > mine.txt', wait: 10 });
    expect(await get(server, '/file', { session: 'cu', path: 'mine.txt' })).toMatchObject({ status: 200, text: 'mine\n' });
    const up = await get(server, '/upload', { session: 'cu', path: 'up.txt', offset: 0, data64: Buffer.from('up').toString('base64'), done: 1 });
    expect(up.status).toBe(200);
    const placed = path.join(user.home, 'up.txt');
    expect(fs.statSync(placed).uid).toBe(user.uid);
    expect(fs.readFileSync(placed, 'utf8')).toBe('up');
    // The server's secret, records, audit log and process: what the command user cannot read.
    const secrets = [server.at('/etc/llmass/llmass.env'), path.join(server.sessionsDir, 'cu', '1.ticket'), path.join(server.sessionsDir, 'audit.jsonl'), `/proc/${server.proc.pid}/environ`];
    for (const file of secrets) {
      const answer = await get(server, '/file', { session: 'cu', path: file });
      expect([403, 404], `${file}: ${answer.status}`).toContain(answer.status);
      expect(answer.text).not.toContain(server.hash);
    }
    // Nor may it write where the command user may not: the code, root's home.
    for (const target of [path.join(server.code, 'dist', 'server.js'), '/root/planted']) {
      const answer = await get(server, '/upload', { session: 'cu', path: target, offset: 0, data64: Buffer.from('x').toString('base64'), done: 1 });
      expect([403, 404], `${target}: ${answer.status}`).toContain(answer.status);
    }
    expect(fs.existsSync('/root/planted')).toBe(false);
    expect(fs.readFileSync(path.join(server.code, 'dist', 'server.js'), 'utf8')).not.toBe('x');
    const rootOnly = path.join(user.home, '..', `llmass-root-only-${process.pid}`);
    fs.writeFileSync(rootOnly, 'root only', { mode: 0o600 });
    try {
      expect((await get(server, '/file', { session: 'cu', path: rootOnly })).status).toBe(403);
    } finally {
      fs.rmSync(rootOnly, { force: true });
    }
  });
});

describe('a long command in answers', () => {
  it('is echoed as its first KiB with its length, whole with input=full, and kept whole in the record', async () => {
    const server = await inProcessApp();
    const payload = 'A'.repeat(100_000);
    const cmd = `echo ${payload} | wc -c`;
    const answer = await server.get('/shell', { session: 'lc', cmd, wait: 10 });
    const view = answer.json<{ input: string; input_bytes: number; output: string; ticket: number }>();
    expect(view.output).toBe('100001\n');
    expect(answer.body.length).toBeLessThan(3000);
    expect(view.input_bytes).toBe(Buffer.byteLength(cmd));
    expect(view.input).toMatch(/^echo AAAA.*… \[llmass: the command is \d+ bytes; add &input=full to the ticket's callback URL for all of it\]$/);
    const history = (await server.get('/history', { session: 'lc' })).body;
    expect(history.length).toBeLessThan(3000);
    const full = (await server.get('/callback', { session: 'lc', ticket: view.ticket, input: 'full' })).json<{ input: string; input_bytes?: number }>();
    expect(full.input).toBe(cmd);
    expect(full.input_bytes).toBeUndefined();
    const record = JSON.parse(fs.readFileSync(path.join(server.sessionsDir, 'lc', `${view.ticket}.ticket`), 'utf8')) as { input: string };
    expect(record.input).toBe(cmd);
  });
});
