// Ticket numbers under concurrent submissions, and atomic replacement of ticket files.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, stopAll, tempDir, until, waitFinal, type TestServer } from './helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ env: { MAX_CONCURRENCY: '8' } });
});
afterAll(stopAll);

describe('concurrent submissions', () => {
  it('gives 50 simultaneous submissions to one session 50 distinct tickets and 50 correct outputs', async () => {
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => server.get(server.url('/shell', { session: 'fifty', cmd: `echo job-${i}` }))),
    );
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    const tickets = answers.map((answer) => answer.json.ticket as number);
    expect(new Set(tickets).size).toBe(50);
    expect([...tickets].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const results = await Promise.all(answers.map((answer) => waitFinal(server, 'fifty', answer.json.ticket)));
    results.forEach((result, i) => {
      expect(result.input).toBe(`echo job-${i}`);
      expect(result.output).toBe(`job-${i}\n`);
    });
    const files = fs.readdirSync(path.join(server.sessionsDir, 'fifty')).filter((name) => name.endsWith('.ticket'));
    expect(files).toHaveLength(50);
  });

  it('never shows a reader half a ticket file while it is rewritten', async () => {
    const submitted = await server.get(server.url('/shell', { session: 'atomic', cmd: 'for i in $(seq 1 40); do echo line $i; sleep 0.02; done' }));
    const file = path.join(server.sessionsDir, 'atomic', `${submitted.json.ticket}.ticket`);
    let reads = 0;
    const statuses = new Set<string>();
    let finished = false;
    const finishing = waitFinal(server, 'atomic', submitted.json.ticket).then((result) => {
      finished = true;
      return result;
    });
    while (!finished) {
      const text = fs.readFileSync(file, 'utf8');
      const record = JSON.parse(text); // throws on a torn file
      statuses.add(record.status);
      reads += 1;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await finishing;
    statuses.add(JSON.parse(fs.readFileSync(file, 'utf8')).status);
    expect(reads).toBeGreaterThan(10);
    expect(statuses.has('done')).toBe(true);
  });
});

describe('TicketStore.write', () => {
  it('replaces a large record atomically while a reader keeps reading it', async () => {
    const { TicketStore } = await import('../src/storage/ticketStore.js');
    const { SessionLayout } = await import('../src/storage/sessionLayout.js');
    const { tempDir } = await import('./helpers/server.js');
    const layout = new SessionLayout(tempDir());
    const store = new TicketStore(layout, 64 << 20);
    const index = await store.open('big', true);
    if (index === undefined) throw new Error('no index');
    const ticket = store.allocate(index);
    const base = {
      ticket, session: 'big', input: 'x', timeout: 1, idle_timeout: null, nonce: null,
      submitted_at: new Date().toISOString(), started_at: null, finished_at: new Date().toISOString(),
      duration_ms: 1, exit_code: 0, signal: null, timeout_kind: null, truncated: false,
      status: 'done' as const,
    };
    await store.write({ ...base, output: 'a'.repeat(1 << 20), output_bytes: 1 << 20 });
    const file = layout.ticketFile('big', ticket);
    let writing = true;
    const writes = (async () => {
      for (let i = 0; i < 40; i += 1) {
        const output = String.fromCharCode(98 + (i % 20)).repeat((1 << 20) + i * 1000);
        await store.write({ ...base, output, output_bytes: output.length });
      }
      writing = false;
    })();
    let reads = 0;
    while (writing) {
      const record = JSON.parse(fs.readFileSync(file, 'utf8'));
      expect(record.output.length).toBe(record.output_bytes);
      reads += 1;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await writes;
    expect(reads).toBeGreaterThan(5);
  });
});

/** A server started on a session `big` of 4 000 finished tickets, written as the daemon writes them. */
async function serverWithBigSession(): Promise<TestServer> {
  const dir = tempDir();
  const sessionDir = path.join(dir, 'sessions', 'big');
  fs.mkdirSync(sessionDir, { recursive: true });
  const stamp = new Date().toISOString();
  for (let ticket = 1; ticket <= 4000; ticket += 1) {
    const record = { ticket, session: 'big', input: 'echo x', timeout: 300, idle_timeout: null, nonce: null, status: 'done', submitted_at: stamp, started_at: stamp, finished_at: stamp, duration_ms: 1, exit_code: 0, signal: null, timeout_kind: null, output: 'x\n', output_bytes: 2, truncated: false };
    fs.writeFileSync(path.join(sessionDir, `${ticket}.ticket`), JSON.stringify(record));
  }
  return startServer({ dir });
}

describe('a long /history', () => {
  it('streams the array in chunks, and serves on when the client leaves in the middle', async () => {
    const busy = await serverWithBigSession();
    const whole = await busy.get(busy.url('/history', { session: 'big' }));
    expect(whole.headers.get('transfer-encoding')).toBe('chunked');
    expect(whole.headers.get('content-length')).toBeNull();
    expect(whole.json.map((view: { ticket: number }) => view.ticket)).toEqual(Array.from({ length: 4000 }, (_, i) => i + 1));

    // Read one chunk, then hang up.
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${busy.base}${busy.url('/history', { session: 'big' })}`, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (error) => ((error as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(error)));
    });
    const after = await busy.get(busy.url('/history', { session: 'big', after: 3998 }));
    expect(after.json.map((view: { ticket: number }) => view.ticket)).toEqual([3999, 4000]);
    expect(busy.output()).not.toMatch(/"level":"error"/);
    expect(busy.proc.exitCode).toBeNull();
  });

  it('lets other requests through while it reads thousands of records from disk', async () => {
    const busy = await serverWithBigSession();
    const bytesRead = (): number => Number(/^rchar: (\d+)$/m.exec(fs.readFileSync(`/proc/${busy.proc.pid}/io`, 'utf8'))?.[1]);
    const before = bytesRead();
    const historySentAt = performance.now();
    let historyMs = 0;
    const history = busy.get(busy.url('/history', { session: 'big' })).then((answer) => {
      historyMs = performance.now() - historySentAt;
      return answer;
    });
    // Once the daemon has read a few hundred records, ask for something else: it must be
    // answered between two batches of reads, not once all of them are done.
    expect(await until(() => bytesRead() > before + 50_000, 10_000, 2)).toBe(true);
    const healthSentAt = performance.now();
    const health = await busy.get('/healthz', { auth: false });
    const healthMs = performance.now() - healthSentAt;
    expect(health.status).toBe(200);
    const views = (await history).json;
    expect(views).toHaveLength(4000);
    expect(views[3999]).toMatchObject({ ticket: 4000, output: 'x\n' });
    expect(healthMs).toBeLessThan(historyMs / 4);
  });
});
