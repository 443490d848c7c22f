// The one request pipeline, through the in-process seam: the order of its steps, each pinned by
// a pair of requests that only that order answers as it does, and /mcp going the same way.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { closeInProcessApps, inProcessApp } from './helpers/inProcess.js';

afterEach(closeInProcessApps);

describe('the request pipeline', () => {
  it('answers through the seam as over a socket: JSON with a hint, no-store', async () => {
    const server = await inProcessApp();
    const answer = await server.get('/sessions');
    expect(answer.status).toBe(200);
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(answer.json<{ count: number }>().count).toBe(0);
  });

  it('finds the route before it asks for a credential, and checks the method before the credential', async () => {
    const server = await inProcessApp();
    expect((await server.app.inject({ url: '/nowhere' })).status).toBe(404);
    expect((await server.app.inject({ method: 'POST', url: '/shell?cmd=ls' })).status).toBe(405);
    expect((await server.app.inject({ url: '/shell?cmd=ls' })).status).toBe(401);
  });

  it('authenticates before it checks the parameters, and checks them before the permission', async () => {
    const server = await inProcessApp();
    // A wrong key learns nothing about which parameters an endpoint takes.
    expect((await server.get('/callback', { hash: 'x'.repeat(40), sesion: 'a' })).status).toBe(401);
    const submitted = (await server.get('/shell', { cmd: 'true' })).json<{ session: string; poll: string }>();
    const token = new URL(submitted.poll).searchParams.get('token') ?? '';
    // A typo is a 400 even where the token would also be refused for another session.
    const typo = await server.app.inject({ url: `/callback?token=${token}&session=other&tickt=1` });
    expect(typo.status).toBe(400);
    expect(typo.json<{ hint: string }>().hint).toMatch(/did you mean ticket/);
    expect((await server.app.inject({ url: `/callback?token=${token}&session=other&ticket=1` })).status).toBe(403);
  });

  it('refuses a locked-out client before looking at its credential, even the right one', async () => {
    const server = await inProcessApp({ AUTH_MAX_FAILURES: '3', AUTH_WINDOW: '60' });
    for (let i = 0; i < 3; i += 1) expect((await server.get('/sessions', { hash: 'w'.repeat(40) })).status).toBe(401);
    const locked = await server.get('/sessions');
    expect(locked.status).toBe(429);
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('never sends a kept answer to a locked-out client', async () => {
    const server = await inProcessApp({ AUTH_MAX_FAILURES: '2', AUTH_WINDOW: '60' });
    const submitted = (await server.get('/shell', { cmd: 'echo kept', wait: 10 })).json<{ session: string; ticket: number }>();
    const target = `/callback?hash=${server.hash}&session=${submitted.session}&ticket=${submitted.ticket}`;
    const first = await server.app.inject({ url: target });
    expect(first.json<{ status: string }>().status).toBe('done');
    // With the record gone from disk, only the kept answer can still say done.
    fs.rmSync(path.join(server.sessionsDir, submitted.session, `${submitted.ticket}.ticket`));
    const again = await server.app.inject({ url: target });
    expect(again.body).toBe(first.body);
    for (let i = 0; i < 2; i += 1) await server.get('/sessions', { hash: 'w'.repeat(40) });
    expect((await server.app.inject({ url: target })).status).toBe(429);
  });

  it('takes /mcp through the same steps: a key in the header only, 401 with WWW-Authenticate', async () => {
    const server = await inProcessApp();
    const initialize = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const none = await server.app.inject({ method: 'POST', url: `/mcp?hash=${server.hash}`, headers, body: initialize });
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer realm="llmass", error="invalid_token", .*resource_metadata="http:\/\/localhost:0\/.well-known\/oauth-protected-resource"$/);
    expect(none.json<{ hint: string }>().hint).toMatch(/Authorization: Bearer/);
    const typo = await server.app.inject({ method: 'POST', url: '/mcp?sesion=a', headers: { ...headers, authorization: `Bearer ${server.hash}` }, body: initialize });
    expect(typo.status).toBe(400);
    const ok = await server.app.inject({ method: 'POST', url: '/mcp', headers: { ...headers, authorization: `Bearer ${server.hash}` }, body: initialize });
    expect(ok.status).toBe(200);
    expect(ok.json<{ result: { serverInfo: { name: string } } }>().result.serverInfo.name).toBe('llmass');
  });
});
