// Bounded memory for every read: histories, transcripts and the live view of a session of
// large tickets, in parallel, grow the server's RSS by a bounded amount (read from /proc), and
// /healthz keeps answering quickly throughout.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, stopAll, waitFinal } from './helpers/server.js';

afterEach(stopAll);

function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]) * 1024;
}

describe('memory under large histories', () => {
  it('serves 4 JSON histories, 2 text histories and a /view of 40 × 3 MB tickets within 200 MB, /healthz under 1 s', async () => {
    const server = await startServer({ env: { MAX_OUTPUT_BYTES: String(3_200_000), MAX_CONCURRENCY: '2' } });
    const pid = server.proc.pid ?? 0;
    // Output full of characters JSON escapes (quotes, backslashes, newlines): the costly kind to read.
    const cmd = `yes 'a "quoted" line \\\\ with a backslash' | head -c 3000000`;
    for (let i = 1; i <= 40; i += 1) {
      const submitted = await server.get(server.url('/shell', { session: 'big', cmd, nonce: i }));
      expect(submitted.status).toBe(200);
    }
    const last = await waitFinal(server, 'big', 40);
    expect(last).toMatchObject({ status: 'done', output_bytes: 3_000_000 });
    const warm = await server.get(server.url('/history', { session: 'big' }));
    expect(warm.json).toHaveLength(40);

    const baseline = statusField(pid, 'VmRSS');
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5'); // resets VmHWM to the current RSS
    let peak = baseline;
    let slowest = 0;
    let reading = true;
    const sampler = (async () => {
      while (reading) {
        peak = Math.max(peak, statusField(pid, 'VmRSS'));
        const start = performance.now();
        const health = await server.get('/healthz', { auth: false });
        expect(health.status).toBe(200);
        slowest = Math.max(slowest, performance.now() - start);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const reads = await Promise.all([
      ...Array.from({ length: 4 }, () => server.get(server.url('/history', { session: 'big' }))),
      ...Array.from({ length: 2 }, () => server.get(server.url('/history', { session: 'big', format: 'text' }))),
      server.get(server.url('/view', { session: 'big' })),
    ]);
    reading = false;
    await sampler;
    peak = Math.max(peak, statusField(pid, 'VmHWM'));

    process.stdout.write(`memory: RSS +${Math.round((peak - baseline) / 1048576)} MB, slowest /healthz ${Math.round(slowest)} ms\n`);
    for (const read of reads) expect(read.status).toBe(200);
    const first = reads[0]?.json;
    expect(first).toHaveLength(40);
    // Each ticket shows at most OUTPUT_VIEW_BYTES of its output, with a page link for the rest.
    expect(Buffer.byteLength(first[0].output)).toBeLessThan(32768 + 400);
    expect(first[0].next_page).toContain('offset=');
    expect(reads[4]?.text).toContain('[ticket 40 · done · exit 0');
    expect(peak - baseline).toBeLessThan(200 * 1024 * 1024);
    expect(slowest).toBeLessThan(1000);
  }, 180_000);
});
