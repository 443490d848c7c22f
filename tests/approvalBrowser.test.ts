// The approval buttons in a real browser (Debian's Chromium, by playwright-core): the
// operator's /sessions page approves a pending command with a click, the operator's /view denies
// one with a typed reason, and opening an approval link (as a preview or a person would) decides
// nothing. The pages' CSP lets their forms post to this server and nothing else.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, stopAll, tempDir, until, type TestServer } from './helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const browserFound = fs.existsSync(CHROMIUM);
const mustRun = process.env.CI !== undefined && process.env.CI !== '';
if (!browserFound) {
  process.stdout.write(
    mustRun
      ? 'approvalBrowser.test.ts: /usr/bin/chromium is missing, and under CI this test must run: failing.\n'
      : 'approvalBrowser.test.ts: SKIPPED: /usr/bin/chromium is missing (apt-get install chromium); under CI it would fail instead.\n',
  );
}

const careful = 'careful-browser-0123456789abcdefghijklmnopqrstuvwxyz';
let server: TestServer;
let browser: Browser | undefined;

const as = (key: string, pathAndQuery: string) => server.get(pathAndQuery, { auth: false, headers: { Authorization: `Bearer ${key}` } });

beforeAll(async () => {
  if (!browserFound) return;
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'keys'), `careful ${careful} approve=always\n`, { mode: 0o600 });
  server = await startServer({ dir, env: { KEYS_FILE: path.join(dir, 'keys') } });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
  await stopAll();
});

describe.runIf(browserFound || mustRun)('approval buttons in Chromium', () => {
  it('is installed (under CI this test may not be skipped)', () => {
    expect(browserFound).toBe(true);
  });

  it('approves from /sessions with a click; opening the link first decided nothing', async () => {
    if (browser === undefined) throw new Error('no browser');
    expect((await as(careful, '/shell?session=pa&cmd=echo%20clicked')).json.status).toBe('pending');
    const listed = (await server.get(server.url('/sessions'))).json.sessions.find((s: { session: string }) => s.session === 'pa');
    const page = await browser.newPage();
    const violations: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') violations.push(message.text());
    });
    // A person (or a preview) opens the link: it shows the command and its buttons, and decides nothing.
    await page.goto(listed.pending[0].approve.replace(/^http:\/\/localhost:\d+/, server.base));
    expect(await page.locator('pre.cmd').textContent()).toBe('$ echo clicked');
    expect((await as(careful, '/callback?session=pa&ticket=1')).json.status).toBe('pending');
    await page.goto(`${server.base}${server.url('/sessions', { format: 'html' })}`);
    await Promise.all([page.waitForURL(/\/approve\?/), page.locator('tr.pending button.approve').click()]);
    expect(await page.locator('p.next').textContent()).toMatch(/^Approved: ticket 1/);
    const ran = (await as(careful, '/callback?session=pa&ticket=1&wait=10')).json;
    expect(ran).toMatchObject({ status: 'done', output: 'clicked\n', approval: { decision: 'approved', by: 'link' } });
    expect(violations).toEqual([]);
    await page.close();
  });

  it('denies from the operator\'s /view with a reason typed into the page', async () => {
    if (browser === undefined) throw new Error('no browser');
    expect((await as(careful, '/shell?session=pd&cmd=rm%20-rf%20%2Ftmp%2Fnothing')).json.status).toBe('pending');
    const page = await browser.newPage();
    await page.goto(`${server.base}${server.url('/view', { session: 'pd' })}`);
    await page.locator('#pending input[name=reason]').fill('not today');
    await Promise.all([page.waitForURL(/\/deny\?/), page.locator('#pending button.deny').click()]);
    expect(await page.locator('p.next').textContent()).toMatch(/^Denied: ticket 1/);
    expect(await until(async () => (await as(careful, '/callback?session=pd&ticket=1')).json.status === 'denied')).toBe(true);
    expect((await as(careful, '/callback?session=pd&ticket=1')).json).toMatchObject({ status: 'denied', reason: 'not today' });
    // An agent's own view of the session shows no buttons.
    const agentView = (await as(careful, '/view?session=pd')).text;
    expect(agentView).not.toContain('button');
    await page.close();
  });
});
