// Damaged and planted files in SESSIONS_DIR are damaged tickets, never a broken server: each
// kind of damage planted before a restart, then every endpoint and the start-up log checked.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { run, startServer, stopAll, tempDir } from './helpers/server.js';

afterEach(stopAll);

describe('damaged ticket records', () => {
  it('start, answer 422 naming the problem, and list the damage in histories and the live view', async () => {
    const dir = tempDir();
    const first = await startServer({ dir, env: { MAX_OUTPUT_BYTES: '4096' } });
    for (const word of ['one', 'two', 'three']) await run(first, `echo ${word}`, { session: 'dmg' });
    await first.stop();

    const sessionDir = path.join(first.sessionsDir, 'dmg');
    const good = fs.readFileSync(path.join(sessionDir, '1.ticket'), 'utf8');
    const secretFile = path.join(dir, 'outside.txt');
    fs.writeFileSync(secretFile, 'root:x:0:0:do-not-log-me\n');
    const planted: Record<number, () => void> = {
      4: () => fs.writeFileSync(path.join(sessionDir, '4.ticket'), ''),
      5: () => fs.symlinkSync(secretFile, path.join(sessionDir, '5.ticket')),
      6: () => fs.writeFileSync(path.join(sessionDir, '6.ticket'), '{"hello":"world"}'),
      7: () => fs.writeFileSync(path.join(sessionDir, '7.ticket'), good.slice(0, good.length / 2)),
      8: () => fs.writeFileSync(path.join(sessionDir, '8.ticket'), good),
      9: () => fs.mkdirSync(path.join(sessionDir, '9.ticket')),
      10: () => execFileSync('mkfifo', [path.join(sessionDir, '10.ticket')]),
      11: () => fs.writeFileSync(path.join(sessionDir, '11.ticket'), `{"output":"${'x'.repeat(4 * 1024 * 1024)}"}`),
      12: () => fs.writeFileSync(path.join(sessionDir, '12.ticket'), good.replace('"ticket": 1,', '"ticket": 12,').replace('"status": "done"', '"status": "exploded"')),
    };
    for (const plant of Object.values(planted)) plant();
    // A link planted where the next ticket's output will be spooled.
    fs.symlinkSync(secretFile, path.join(sessionDir, '.13.out'));

    const server = await startServer({ dir, hash: first.hash, env: { MAX_OUTPUT_BYTES: '4096' } });
    for (const n of Object.keys(planted)) expect(server.output()).toContain(path.join(sessionDir, `${n}.ticket`));
    expect(server.output()).not.toContain('do-not-log-me');
    expect(server.output()).not.toContain('root:x');

    const problems: Record<number, RegExp> = {
      4: /empty/, 5: /symbolic link/, 6: /another ticket/, 7: /not valid JSON/, 8: /another ticket/, 9: /not a regular file/,
      10: /not a regular file/, 11: /larger/, 12: /status/,
    };
    for (const [n, problem] of Object.entries(problems)) {
      const answer = await server.get(server.url('/callback', { session: 'dmg', ticket: n }));
      expect(answer.status, `ticket ${n}`).toBe(422);
      expect(answer.json.error).toMatch(problem);
      expect(answer.json.hint).toMatch(/other tickets are not affected/);
      expect(answer.text).not.toContain('do-not-log-me');
      const cancel = await server.get(server.url('/cancel', { session: 'dmg', ticket: n }));
      expect(cancel.status).toBe(422);
    }

    const history = await server.get(server.url('/history', { session: 'dmg' }));
    expect(history.status).toBe(200);
    expect(history.json.map((entry: { ticket: number; type: string }) => `${entry.ticket}:${entry.type}`)).toEqual([
      '1:result', '2:result', '3:result', ...Object.keys(planted).map((n) => `${n}:damaged`),
    ]);
    const text = await server.get(server.url('/history', { session: 'dmg', format: 'text' }));
    expect(text.status).toBe(200);
    expect(text.text).toContain('$ echo three\nthree\n');
    expect(text.text).toMatch(/\[ticket 7 · damaged: .*not valid JSON/);
    const page = await server.get(server.url('/view', { session: 'dmg' }));
    expect(page.status).toBe(200);
    expect(page.text).toContain('#11 · damaged');
    expect(page.text).toContain('</html>');
    for (const answer of [history, text, page]) expect(answer.text).not.toContain('do-not-log-me');

    // Numbering goes on after the highest number that has a file; the planted link is not followed.
    const next = await run(server, 'echo fresh', { session: 'dmg' });
    expect(next).toMatchObject({ ticket: 13, status: 'done', output: 'fresh\n' });
    expect(fs.readFileSync(secretFile, 'utf8')).toBe('root:x:0:0:do-not-log-me\n');
    expect((await server.get('/healthz', { auth: false })).status).toBe(200);
  });

  it('never reuses the number of a record planted or damaged while it runs, and says so in the text history\'s first line', async () => {
    const server = await startServer();
    for (const word of ['one', 'two', 'three']) await run(server, `echo ${word}`, { session: 'live' });
    const sessionDir = path.join(server.sessionsDir, 'live');
    fs.writeFileSync(path.join(sessionDir, '4.ticket'), 'planted, not JSON');
    fs.symlinkSync(path.join(sessionDir, 'nowhere'), path.join(sessionDir, '5.ticket'));
    const text = await server.get(server.url('/history', { session: 'live', format: 'text' }));
    expect(text.text.split('\n')[0]).toBe('[session live · 5 ticket(s) · last: ticket 5, whose record is damaged or gone]');
    const next = await run(server, 'echo fresh', { session: 'live' });
    expect(next).toMatchObject({ ticket: 6, output: 'fresh\n' });
    expect(fs.readFileSync(path.join(sessionDir, '4.ticket'), 'utf8')).toBe('planted, not JSON');
    expect(fs.readlinkSync(path.join(sessionDir, '5.ticket'))).toBe(path.join(sessionDir, 'nowhere'));
    const after = await server.get(server.url('/history', { session: 'live', format: 'text' }));
    expect(after.text.split('\n')[0]).toMatch(/^\[session live · 6 ticket\(s\) · last: ticket 6 · done · exit 0/);
  });

  it('never follows a session directory that is a link', async () => {
    const server = await startServer();
    const elsewhere = tempDir();
    fs.mkdirSync(server.sessionsDir, { recursive: true });
    fs.symlinkSync(elsewhere, path.join(server.sessionsDir, 'linked'));
    const callback = await server.get(server.url('/callback', { session: 'linked', ticket: 1 }));
    expect(callback.status).toBe(404);
    const submitted = await server.get(server.url('/shell', { session: 'linked', cmd: 'echo hi' }));
    expect(submitted.status).toBe(503);
    expect(submitted.json.hint).toMatch(/no ticket was made/);
    expect(fs.readdirSync(elsewhere)).toEqual([]);
  });
});
