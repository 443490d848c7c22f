// Answers an agent can trust, round two: a replay says it is one where a model reads first, and
// a finished ticket is replayed only just after it ended; each key has its own sessionless
// slot; hints name the likely mistake; queued answers say where they stand and why; /context
// states this server's limits; MCP results carry the output once; /openapi.json says what the
// server does. Through the in-process seam.
import fs from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import { afterEach, describe, expect, it } from 'vitest';
import { openApiDocument } from '../src/protocol/openapi.js';
import { callTool, closeInProcessApps, inProcessApp, type InProcessApp } from './helpers/inProcess.js';
import { until } from './helpers/server.js';

afterEach(closeInProcessApps);

interface Answered {
  type: string;
  ticket: number;
  session: string;
  status: string;
  cached?: boolean;
  next: string;
  queue_position?: number;
  queued_behind?: unknown;
  notice?: string;
}

async function json(server: InProcessApp, pathname: string, params: Record<string, string | number>): Promise<Answered> {
  const answer = await server.get(pathname, params);
  expect(answer.status, answer.body).toBe(200);
  return answer.json<Answered>();
}

describe('replays', () => {
  it('say so first, in the text status line and in next, with how old the result is', async () => {
    const server = await inProcessApp();
    const first = await json(server, '/shell', { session: 'r', cmd: 'echo once', wait: 10 });
    expect(first.cached).toBe(false);
    const again = await json(server, '/shell', { session: 'r', cmd: 'echo once', wait: 10 });
    expect(again).toMatchObject({ ticket: first.ticket, cached: true });
    expect(again.next).toMatch(/^Not run again: this is a replay of ticket 1, the same request made \d+ s ago in session r\. It ended \d+ s ago/);
    expect(again.next).toMatch(/nonce/);
    const text = (await server.get('/shell', { session: 'r', cmd: 'echo once', wait: 10, format: 'text' })).body;
    // With format=text the request differs: a new ticket. Its own replay then reads as one.
    const replayText = (await server.get('/shell', { session: 'r', cmd: 'echo once', wait: 10, format: 'text' })).body;
    expect(text.split('\n')[0]).toMatch(/^\[ticket 2 · done · exit 0 · \d+ ms\]$/);
    expect(replayText.split('\n')[0]).toMatch(/^\[replay of ticket 2 · done \d+ s ago · exit 0 · \d+ ms\]$/);
  });

  it('of an unfinished ticket say so too', async () => {
    const server = await inProcessApp();
    const params = { session: 'u', cmd: 'sleep 5', format: 'text' };
    const first = (await server.get('/shell', params)).body;
    const again = (await server.get('/shell', params)).body;
    expect(first.split('\n')[0]).toMatch(/^\[ticket 1 · (queued|running) · exit none yet\]$/);
    expect(again.split('\n')[0]).toMatch(/^\[replay of ticket 1 · (queued|running) · exit none yet\]$/);
    expect(again).toMatch(/Next: Not run again: this is a replay of ticket 1/);
  });

  it('of a finished ticket end with DEDUP_WINDOW: the same status check asked later runs again', async () => {
    const server = await inProcessApp({ DEDUP_WINDOW: '1' });
    const check = { session: 'w', cmd: 'date +%s%N', wait: 10 };
    const first = await json(server, '/shell', check);
    expect((await json(server, '/shell', check)).cached).toBe(true);
    let later: Answered | undefined;
    expect(await until(async () => (later = await json(server, '/shell', check)).cached === false, 5000, 100)).toBe(true);
    expect(later?.ticket).toBe(first.ticket + 1);
  });

  it('belong to the key that sent them: a sessionless request of another key runs', async () => {
    const other = 'o'.repeat(40);
    const keysDir = fs.mkdtempSync('/tmp/llmass-keys-');
    const keysFile = path.join(keysDir, 'keys');
    fs.writeFileSync(keysFile, `other ${other}\n`, { mode: 0o600 });
    try {
      const server = await inProcessApp({ KEYS_FILE: keysFile });
      const mine = await json(server, '/shell', { cmd: 'pwd', wait: 10 });
      const theirs = await json(server, '/shell', { cmd: 'pwd', wait: 10, hash: other });
      expect(theirs.cached).toBe(false);
      expect(theirs.session).not.toBe(mine.session);
      expect(await json(server, '/shell', { cmd: 'pwd', wait: 10 })).toMatchObject({ cached: true, session: mine.session });
      expect(await json(server, '/shell', { cmd: 'pwd', wait: 10, hash: other })).toMatchObject({ cached: true, session: theirs.session });
    } finally {
      fs.rmSync(keysDir, { recursive: true, force: true });
    }
  });
});

describe('hints that name the likely mistake', () => {
  it('an unencoded & in cmd', async () => {
    const server = await inProcessApp();
    const answer = await server.app.inject({ url: `/shell?hash=${server.hash}&cmd=echo%20a&b` });
    expect(answer.status).toBe(400);
    expect(answer.json<{ hint: string }>().hint).toMatch(/^if "b" was part of your command, an unencoded & ended cmd there: encode & as %26/);
  });

  it('a + in cmd read as a space, and a # that cut the command short', async () => {
    const server = await inProcessApp();
    const plus = await server.app.inject({ url: `/shell?hash=${server.hash}&wait=10&cmd=expr%201+2` });
    expect(plus.json<Answered>().notice).toMatch(/each \+ in cmd was read as a space.*%2B/);
    // Everything after a # is the URL's fragment: the server gets `echo "a`.
    const cut = await server.app.inject({ url: `/shell?hash=${server.hash}&wait=10&cmd=${encodeURIComponent('echo "a')}` });
    expect(cut.json<Answered>().next).toMatch(/encode it as %23/);
    // A form encoder's spaces (+ throughout, a plus as %2B) get no such notice.
    const form = await server.app.inject({ url: `/shell?hash=${server.hash}&wait=10&cmd=expr+1+%2B+2` });
    expect(form.json<Answered & { output: string }>()).toMatchObject({ output: '3\n' });
    expect(form.json<Answered>().notice).toBeUndefined();
  });
});

describe('a queued ticket', () => {
  it('says where it stands and what holds it: all slots busy, or its session\'s earlier ticket', async () => {
    const server = await inProcessApp({ MAX_CONCURRENCY: '1' });
    const doc = openApiDocument('http://x', '0') as { components: { schemas: Record<string, unknown> } };
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    ajv.addSchema({ ...doc, $id: 'openapi' });
    const valid = (name: string, value: unknown): boolean => ajv.validate({ $ref: `openapi#/components/schemas/${name}` }, value);
    const blocker = await json(server, '/shell', { session: 'hold', cmd: 'sleep 30' });
    await until(async () => (await json(server, '/callback', { session: 'hold', ticket: blocker.ticket })).status === 'running');
    const waiting = await json(server, '/shell', { session: 'other', cmd: 'echo later' });
    expect(waiting).toMatchObject({ status: 'queued', queue_position: 1, queued_behind: { kind: 'slots', running: 1, max_concurrency: 1, sessions: ['hold'] } });
    expect(waiting.next).toMatch(/Queued, 1st to start: all 1 command slots \(MAX_CONCURRENCY\) are busy, with session\(s\) hold\./);
    expect(valid('Submission', waiting), JSON.stringify(ajv.errors)).toBe(true);
    const behind = await json(server, '/shell', { session: 'hold', cmd: 'echo after' });
    expect(behind).toMatchObject({ queue_position: 2, queued_behind: { kind: 'session', ticket: blocker.ticket } });
    const polled = await json(server, '/callback', { session: 'hold', ticket: behind.ticket });
    expect(polled.next).toMatch(/^Queued, 2nd to start: ticket 1 of this session runs first/);
    expect(valid('TicketView', polled), JSON.stringify(ajv.errors)).toBe(true);
    await server.get('/cancel', { session: 'hold', ticket: blocker.ticket });
  });
});

describe('/context', () => {
  it('states the limits of the server as it runs', async () => {
    const server = await inProcessApp({ MAX_CONCURRENCY: '3', COMMAND_TIMEOUT: '77', DEDUP_WINDOW: '4', MAX_QUEUE: '50', MAX_WAIT: '20' });
    const page = (await server.get('/context', { format: 'md' })).body;
    expect(page).toMatch(/At most 3 commands run at once/);
    expect(page).toMatch(/At most 50 tickets wait at once/);
    expect(page).toMatch(/may run 77 s at most/);
    expect(page).toMatch(/within 4 s after it finished/);
    expect(page).toMatch(/holds an answer at most 20 s/);
    expect(page).toMatch(/stdin is empty/);
    expect(page).not.toMatch(/\{[A-Z_]+\}/);
  });
});

describe('MCP results', () => {
  it('carry the output once, and weigh at most the output plus 1 KiB', async () => {
    const server = await inProcessApp();
    const big = await callTool(server, 'shell', { cmd: 'head -c 30000 /dev/zero | tr "\\0" x', session: 'm', wait: 10 });
    expect(big.text).toContain('x'.repeat(30000));
    expect(big.structured).not.toHaveProperty('output');
    expect(big.structured).toMatchObject({ status: 'done', output_bytes: 30000 });
    expect(big.bytes).toBeLessThanOrEqual(30000 + 1024);
    const one = await callTool(server, 'callback', { session: 'm', ticket: 1 });
    expect(one.bytes).toBeLessThanOrEqual(30000 + 1024);
  });
});

describe('/openapi.json', () => {
  it('says what the server does: every parameter it lists is taken, no other; every format it lists answers as documented', async () => {
    // Short waits: file transfers wait behind the commands this test submits to the same session.
    const server = await inProcessApp({ MAX_WAIT: '5' });
    const submitted = await json(server, '/shell', { session: 'o', cmd: 'echo doc > f.txt', wait: 10 });
    const doc = (await server.app.inject({ url: '/openapi.json' })).json<{
      paths: Record<string, { get: { parameters: Array<{ name: string; required: boolean; schema: { enum?: string[] } }>; responses: Record<string, { content?: Record<string, unknown> }>; 'x-llmass-formats'?: Record<string, string> } }>;
    }>();
    const sample: Record<string, string | number> = { session: 'o', ticket: submitted.ticket, cmd: 'true', wait: 0, offset: 0, limit: 1, after: 0, timeout: 5, idle_timeout: 5, nonce: 'n', cursor: 'abc', cmd64: 'dHJ1ZQ', path: 'f.txt', data64: 'ZG9j', done: 0, sha256: '0'.repeat(64), mode: '644', input: 'full', n: 1, text: 'x', text64: 'eA', eof: 0, secret: 0, quiet: 0, since: 0, tty: 0, cols: 80, rows: 24 };
    for (const [route, { get }] of Object.entries(doc.paths)) {
      const listed = get.parameters.map((param) => param.name);
      const base: Record<string, string | number> = {};
      for (const param of get.parameters) if (param.required) base[param.name] = sample[param.name] ?? '';
      for (const name of listed) {
        if (name === 'format' || name === 'cmd64' || (route === '/shell' && name === 'cmd')) continue;
        const answer = await server.get(route, { ...base, [name]: sample[name] ?? '' });
        expect(answer.body, `${route} takes ${name}`).not.toMatch(/does not take the parameter/);
      }
      const refused = await server.get(route, { ...base, undocumented: 1 });
      expect(refused.status, `${route} refuses what it does not list`).toBe(400);
      for (const param of get.parameters) {
        if (!param.required) continue;
        const { [param.name]: _left, ...without } = base;
        expect((await server.get(route, without)).status, `${route} needs ${param.name}`).toBe(400);
      }
      const formats = get.parameters.find((param) => param.name === 'format')?.schema.enum ?? [];
      for (const format of formats) {
        const answer = await server.get(route, { ...base, ...(route === '/shell' ? { cmd: 'true' } : {}), format });
        // One content type per status; a format= variant's type is named in x-llmass-formats.
        const content = Object.keys(get.responses['200']?.content ?? {});
        expect(content.length, `${route}: one content type for 200`).toBeLessThanOrEqual(1);
        const documented = get['x-llmass-formats']?.[format] ?? content[0];
        const type = String(answer.headers['content-type']).split(';')[0] ?? '';
        // An error (/stdin and /screen here have no running terminal to answer for) is JSON, whatever the format.
        expect(answer.status < 300 ? documented : 'application/json', `${route}?format=${format} answers ${type}`).toBe(type);
      }
    }
  });
});
