// Approvals: an approve=always key's commands wait, pending, for a person. A GET of an approval
// link decides nothing (previews, prefetchers, re-fetches); a POST does: approved, the ticket
// runs; denied or undecided at APPROVAL_TIMEOUT, it ends denied with the reason, never run. The
// links reach only the operator (/sessions, /view, the webhook); a named key cannot decide.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeInProcessApps, inProcessApp, type InProcessApp } from './helpers/inProcess.js';

const careful = 'careful-secret-0123456789abcdefghijklmnopqrstuvwxyz';
const free = 'free-secret-0123456789abcdefghijklmnopqrstuvwxyz-free';
let server: InProcessApp;
let dir = '';
const received: Array<Record<string, unknown>> = [];
let receiver: http.Server;
let failuresLeft = 1;

const local = (url: string): string => url.replace(/^http:\/\/[^/]+/, '');
const as = (key: string, pathname: string, params: Record<string, string | number> = {}) => server.get(pathname, { hash: key, ...params });
const post = (url: string, headers: Record<string, string> = {}, body?: string) => server.app.inject({ method: 'POST', url: local(url), headers, ...(body === undefined ? {} : { body }) });

beforeAll(async () => {
  // A local receiver for the webhook: it fails its first delivery, so the retry is exercised.
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      if (failuresLeft > 0) {
        failuresLeft -= 1;
        res.writeHead(500).end();
        return;
      }
      received.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as { port: number }).port;
  dir = fs.mkdtempSync('/tmp/llmass-approvals-');
  fs.writeFileSync(path.join(dir, 'keys'), `careful ${careful} approve=always\nfree ${free}\n`, { mode: 0o600 });
  server = await inProcessApp({ KEYS_FILE: path.join(dir, 'keys'), APPROVAL_TIMEOUT: '2', APPROVAL_WEBHOOK: `http://127.0.0.1:${port}/hook` });
});
afterAll(async () => {
  await closeInProcessApps();
  await new Promise((resolve) => receiver.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function pendingLinks(session: string, ticket: number): Promise<{ approve: string; deny: string }> {
  const listed = (await server.get('/sessions')).json<{ sessions: Array<{ session: string; pending?: Array<{ ticket: number; approve: string; deny: string }> }> }>();
  const entry = listed.sessions.find((s) => s.session === session)?.pending?.find((p) => p.ticket === ticket);
  if (entry === undefined) throw new Error(`ticket ${ticket} of ${session} is not pending`);
  return entry;
}

describe('approve=always', () => {
  it('makes a command wait, pending, and says so; the agent cannot decide it', async () => {
    const submitted = await as(careful, '/shell', { session: 'c1', cmd: 'echo approved-run > /tmp/llmass-approval-marker; echo ran' });
    const view = submitted.json<{ status: string; next: string; ticket: number }>();
    expect(view.status).toBe('pending');
    expect(view.next).toMatch(/waits for the operator's approval/);
    // The agent's own /sessions lists it without links; its key cannot decide.
    const own = (await as(careful, '/sessions')).json<{ sessions: Array<{ pending?: Array<Record<string, unknown>> }> }>();
    expect(own.sessions[0]?.pending?.[0]).toMatchObject({ ticket: 1 });
    expect(own.sessions[0]?.pending?.[0]?.approve).toBeUndefined();
    const self = await server.app.inject({ method: 'POST', url: `/approve?hash=${careful}&session=c1&ticket=1` });
    expect(self.status).toBe(403);
    expect((await as(careful, '/callback', { session: 'c1', ticket: 1 })).json<{ status: string }>().status).toBe('pending');
  });

  it('decides nothing on a GET of its links, however often; a POST approves, and a repeat changes nothing', async () => {
    fs.rmSync('/tmp/llmass-approval-marker', { force: true });
    const links = await pendingLinks('c1', 1);
    for (let i = 0; i < 3; i += 1) {
      const shown = await server.app.inject({ url: local(links.approve) });
      expect(shown.status).toBe(200);
      expect(shown.json<{ status: string; decided: boolean; command: string }>()).toMatchObject({ status: 'pending', decided: false });
      expect((await server.app.inject({ url: local(links.deny), headers: { accept: 'text/html' } })).body).toContain('<button type="submit" class="approve">Approve</button>');
    }
    expect(fs.existsSync('/tmp/llmass-approval-marker')).toBe(false);
    const approved = await post(links.approve);
    expect(approved.status).toBe(200);
    expect(approved.json<{ decided: boolean; approval: { decision: string; by: string } }>()).toMatchObject({ decided: true, approval: { decision: 'approved', by: 'link' } });
    const result = await as(careful, '/callback', { session: 'c1', ticket: 1, wait: 10 });
    expect(result.json<{ status: string; output: string }>()).toMatchObject({ status: 'done', output: 'ran\n' });
    expect(fs.readFileSync('/tmp/llmass-approval-marker', 'utf8')).toBe('approved-run\n');
    const again = await post(links.approve);
    expect(again.status).toBe(200);
    expect(again.json<{ decided: boolean }>().decided).toBe(false);
    expect((await post(links.deny)).status).toBe(409);
    fs.rmSync('/tmp/llmass-approval-marker', { force: true });
  });

  it('denies with the reason by a button, holding the session\'s later command behind it until then', async () => {
    await as(careful, '/shell', { session: 'c2', cmd: 'echo first' });
    await as(careful, '/shell', { session: 'c2', cmd: 'echo second' });
    const links = await pendingLinks('c2', 1);
    const page = await server.app.inject({ url: local(links.deny), headers: { accept: 'text/html' } });
    expect(page.headers['content-security-policy']).toContain("form-action 'self'");
    const denied = await post(links.deny, { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }, 'reason=not+on+this+host');
    expect(denied.status).toBe(200);
    expect(denied.body).toContain('Denied: ticket 1 ended denied');
    const view = (await as(careful, '/callback', { session: 'c2', ticket: 1 })).json<{ status: string; reason: string; next: string; exit_code: null }>();
    expect(view).toMatchObject({ status: 'denied', reason: 'not on this host', exit_code: null });
    expect(view.next).toMatch(/^Denied, not run \(not on this host\)/);
    expect((await post(links.approve)).status).toBe(409);
    // The second is pending in its turn, and takes no slot meanwhile.
    expect((await as(careful, '/callback', { session: 'c2', ticket: 2 })).json<{ status: string }>().status).toBe('pending');
    const audit = fs.readFileSync(server.config.auditLog, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(audit.filter((line) => line.event === 'approved' || line.event === 'denied').map((line) => `${line.event}:${line.session}:${line.ticket}:${line.by}`)).toEqual(['approved:c1:1:link', 'denied:c2:1:link']);
  });

  it('denies an undecided command at APPROVAL_TIMEOUT, reason "no decision"', async () => {
    const submitted = (await as(careful, '/shell', { session: 'c3', cmd: 'echo never' })).json<{ ticket: number }>();
    const ended = await as(careful, '/callback', { session: 'c3', ticket: submitted.ticket, wait: 10 });
    expect(ended.json<{ status: string; reason: string; approval: { by: string } }>()).toMatchObject({ status: 'denied', reason: 'no decision', approval: { by: 'timeout' } });
  });

  it('POSTs each pending command to APPROVAL_WEBHOOK with its links, retrying a failure', async () => {
    await as(careful, '/shell', { session: 'c4', cmd: 'echo hooked' });
    const deadline = Date.now() + 10_000;
    while (!received.some((item) => item.session === 'c4') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const hooked = received.find((item) => item.session === 'c4');
    expect(hooked).toMatchObject({ session: 'c4', ticket: 1, key: 'careful', command: 'echo hooked' });
    expect(failuresLeft).toBe(0);
    const decided = await post(String(hooked?.approve));
    expect(decided.json<{ approval: { decision: string } }>().approval.decision).toBe('approved');
  });

  it('refuses what is not a decision: a key without approve=always runs at once; 409 for a ticket that never waited; 400 for a long reason; 405 for PUT', async () => {
    const ran = await as(free, '/shell', { session: 'f1', cmd: 'echo free', wait: 10 });
    expect(ran.json<{ status: string }>().status).toBe('done');
    const never = await server.app.inject({ method: 'POST', url: `/approve?hash=${server.hash}&session=f1&ticket=1` });
    expect(never.status).toBe(409);
    expect(never.json<{ error: string }>().error).toMatch(/did not wait for approval/);
    await as(careful, '/shell', { session: 'c5', cmd: 'echo later' });
    const long = await server.app.inject({ method: 'POST', url: `/deny?hash=${server.hash}&session=c5&ticket=1&reason=${'x'.repeat(1025)}` });
    expect(long.status).toBe(400);
    expect((await as(careful, '/callback', { session: 'c5', ticket: 1 })).json<{ status: string }>().status).toBe('pending');
    const put = await server.app.inject({ method: 'PUT', url: `/approve?hash=${server.hash}&session=c5&ticket=1` });
    expect([put.status, put.headers.allow]).toEqual([405, 'GET, HEAD, POST']);
    const byOperator = await server.app.inject({ method: 'POST', url: `/deny?hash=${server.hash}&session=c5&ticket=1&reason=no` });
    expect(byOperator.json<{ approval: { by: string } }>().approval.by).toBe('HASH');
  });
});

describe('through MCP', () => {
  it('answers a pending shell call with status pending and what it means', async () => {
    const answer = await server.app.inject({
      method: 'POST',
      url: '/mcp',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${careful}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'shell', arguments: { session: 'm1', cmd: 'echo via-mcp' } } }),
    });
    const result = answer.json<{ result: { content: Array<{ text: string }>; structuredContent: { status: string } } }>().result;
    expect(result.structuredContent.status).toBe('pending');
    expect(result.content[0]?.text).toMatch(/waits for the operator's approval/);
  });
});
