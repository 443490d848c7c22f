// / and /context: the README and CONTEXT.md rendered, placeholders filled, safe headers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, stopAll, type TestServer } from './helpers/server.js';

let server: TestServer;
const FQDN = 'https://llmass.test.example';
beforeAll(async () => {
  server = await startServer({ env: { FQDN } });
});
afterAll(stopAll);

describe('pages', () => {
  it('renders README.md on / with the FQDN filled in and no hash', async () => {
    const page = await server.get('/', { auth: false });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.text).toContain('<h1>LLMASS');
    expect(page.text).toContain(`<code>${FQDN}</code>`);
    expect(page.text).not.toContain('{FQDN}');
    expect(page.text).not.toContain(server.hash);
  });

  it('renders CONTEXT.md on /context with the FQDN and the hash in its examples', async () => {
    const page = await server.get('/context');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.text).toContain(`${FQDN}/shell?hash=${server.hash}&amp;wait=25&amp;cmd=pwd`);
    expect(page.text).not.toMatch(/\{FQDN\}|\{HASH\}/);
  });

  it('serves the markdown itself with format=md', async () => {
    const md = await server.get(server.url('/context', { format: 'md' }));
    expect(md.headers.get('content-type')).toMatch(/^text\/markdown/);
    expect(md.text).toContain(`${FQDN}/shell?hash=${server.hash}&wait=25&cmd=pwd`);
  });

  it('sends the security headers on HTML answers', async () => {
    for (const target of ['/', server.url('/context')]) {
      const page = await server.get(target, { auth: false });
      expect(page.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
      expect(page.headers.get('content-security-policy')).toMatch(/script-src 'none'/);
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
      expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });

  it('answers HEAD like GET without a body', async () => {
    const head = await server.get('/healthz', { auth: false, method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(0);
  });
});
