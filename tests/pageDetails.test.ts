// What a person's browser meets on the pages: the README with this server's address in its
// examples, no 404 for the icon every tab asks for, and on /view a failure in a colour of its own
// and the rest of a long output as a link.
import { afterEach, describe, expect, it } from 'vitest';
import { closeInProcessApps, inProcessApp } from './helpers/inProcess.js';

afterEach(closeInProcessApps);

describe('the pages', () => {
  it('show this server\'s address in the README\'s examples, and answer /favicon.ico without a 404', async () => {
    const server = await inProcessApp({ FQDN: 'https://jump.example.org' });
    const page = (await server.app.inject({ url: '/' })).body;
    expect(page).toContain('https://jump.example.org/shell?hash=');
    expect(page).not.toContain('localhost:8083');
    const icon = await server.app.inject({ url: '/favicon.ico' });
    expect(icon.status).toBe(204);
    expect(icon.body).toBe('');
  });

  it('mark a failed command apart from a success on /view, and link the rest of a long output', async () => {
    const server = await inProcessApp({ OUTPUT_VIEW_BYTES: '256' });
    await server.get('/shell', { session: 'v', cmd: 'true', wait: 10 });
    await server.get('/shell', { session: 'v', cmd: 'false', wait: 10 });
    await server.get('/shell', { session: 'v', cmd: 'seq 1 2000', wait: 10 });
    const page = (await server.get('/view', { session: 'v' })).body;
    expect(page).toMatch(/<div class="status done">#1 · done · exit 0/);
    expect(page).toMatch(/<div class="status done failed">#2 · done · exit 1/);
    expect(page).toMatch(/<a class="page" href="http:\/\/[^"]*callback\?token=r\.[^"]*&#38;session=v&#38;ticket=3&#38;offset=\d+&#38;limit=256[^"]*">the rest of the output<\/a>/);
    expect(page).toMatch(/\.status\.failed/);
  });
});

describe('/sessions?format=html', () => {
  it('is a page of the sessions, each a link to its live view, busy ones marked, every name escaped', async () => {
    const server = await inProcessApp();
    await server.get('/shell', { session: 'idle-one', cmd: 'true', wait: 10 });
    await server.get('/shell', { session: 'busy-one', cmd: 'sleep 30' });
    const answer = await server.get('/sessions', { format: 'html' });
    expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(answer.headers['content-security-policy']).toBeDefined();
    expect(answer.body).toMatch(/<a href="http:\/\/[^"]*\/view\?token=r\.[^"]*session=busy-one[^"]*">busy-one<\/a>/);
    expect(answer.body).toMatch(/busy-one<\/a><\/td><td>1<\/td><td>HASH<\/td><td>[^<]+<\/td><td class="status running">busy<\/td>/);
    expect(answer.body).toMatch(/idle-one<\/a><\/td><td>1<\/td><td>HASH<\/td><td>[^<]+<\/td><td class="status">idle<\/td>/);
    expect(answer.body).not.toContain(server.hash);
  });
});
