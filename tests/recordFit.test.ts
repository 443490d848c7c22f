// Cutting a final record's output to fit a full disk (recordFit.ts): half of it each time, head
// and tail kept whole to the character, the bytes left out counted and said.
import { describe, expect, it } from 'vitest';
import type { FinishedTicket } from '../src/protocol/types.js';
import { SMALLEST_CUT, withHalfTheOutput } from '../src/storage/recordFit.js';

function record(output: string): FinishedTicket {
  return {
    ticket: 1, session: 's', input: 'x', timeout: 300, idle_timeout: null, nonce: null, submitted_at: '2026-12-03T00:00:00.000Z', key: 'HASH', process_marker: null,
    status: 'done', started_at: null, finished_at: '2026-12-03T00:00:01.000Z', duration_ms: null, exit_code: 0, signal: null, timeout_kind: null,
    output_bytes: Buffer.byteLength(output), truncated: false, output_dropped_bytes: 0, background: [], reason: null, output,
  };
}

describe('withHalfTheOutput', () => {
  it('keeps the first and last quarter, counts the bytes between, and marks the record truncated', () => {
    const output = 'a'.repeat(5000) + 'b'.repeat(10_000) + 'c'.repeat(5000);
    const cut = withHalfTheOutput(record(output));
    expect(cut?.truncated).toBe(true);
    expect(cut?.output_dropped_bytes).toBe(10_000);
    expect(cut?.output).toBe(`${'a'.repeat(5000)}\n\n[llmass: 10000 bytes of output were not stored: the sessions disk was full when the result was written; the stored output keeps its first and last parts]\n\n${'c'.repeat(5000)}`);
    expect(cut?.output_bytes).toBe(20_000);
  });

  it('never splits a character made of two UTF-16 units, and counts UTF-8 bytes', () => {
    const output = '😀'.repeat(3001);
    const cut = withHalfTheOutput(record(output));
    const kept = cut?.output.split(/\n\n\[llmass[^\n]*\n\n/) ?? [];
    expect(kept.join('')).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
    expect(cut?.output_dropped_bytes).toBe(Buffer.byteLength(output) - Buffer.byteLength(kept.join('')));
  });

  it('adds to the bytes already dropped, and stops at a small output', () => {
    const first = withHalfTheOutput({ ...record('x'.repeat(40_000)), output_dropped_bytes: 7 });
    expect(first?.output_dropped_bytes).toBe(7 + 20_000);
    expect(withHalfTheOutput(record('x'.repeat(SMALLEST_CUT)))).toBeUndefined();
  });
});
