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
