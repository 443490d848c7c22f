// The collector keeps exactly what an answer shows, whatever the size and chunking of the
// output: checked against slicing the whole output in memory.
import { describe, expect, it } from 'vitest';
import { OutputCollector } from '../src/storage/outputCollector.js';
import { headShare } from '../src/protocol/outputParts.js';
import { outputView } from '../src/answers/outputView.js';

function collectInChunks(bytes: Buffer, chunk: number, plan: ConstructorParameters<typeof OutputCollector>[0]) {
  const collector = new OutputCollector(plan);
  for (let i = 0; i < bytes.length; i += chunk) collector.push(bytes.subarray(i, i + chunk));
  return collector.result();
}

const page = (offset: number, limit: number): string => `page:${offset}:${limit}`;

describe('OutputCollector', () => {
  it('keeps an exact window, and counts the stored bytes', () => {
    const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(''));
    for (const chunk of [1, 7, 100, 4096, 10_000]) {
      for (const [offset, limit] of [[0, 10], [4990, 100], [123, 777], [6000, 5]]) {
        const result = collectInChunks(bytes, chunk, { kind: 'window', offset, limit });
        expect(result).toMatchObject({ kind: 'window', storedBytes: 5000 });
        if (result.kind !== 'window') throw new Error('kind');
        expect(result.bytes.toString()).toBe(bytes.subarray(offset, offset + limit).toString());
      }
    }
  });

  it('shows the whole output when it fits, else the same head and tail as slicing it whole', () => {
    const viewBytes = 256;
    for (const size of [0, 10, 256, 257, 1000, 100_000]) {
      // Multi-byte characters, so that the cuts must back off to character boundaries.
      const text = '€a😀'.repeat(size).slice(0, size);
      const bytes = Buffer.from(text);
      for (const chunk of [1, 3, 64, 65536]) {
        const view = outputView(collectInChunks(bytes, chunk, { kind: 'view', viewBytes }), { outputBytes: bytes.length, truncated: false }, viewBytes, page);
        if (bytes.length <= viewBytes) {
          expect(view.output).toBe(text);
          expect(view.output_stored_bytes).toBeUndefined();
          continue;
        }
        expect(view.output_stored_bytes).toBe(bytes.length);
        const [head, tail] = view.output.split(/\n\n\[llmass: .*\]\n\n/);
        expect(bytes.subarray(0, Buffer.byteLength(head ?? '')).toString()).toBe(head);
        expect(bytes.subarray(bytes.length - Buffer.byteLength(tail ?? '')).toString()).toBe(tail);
        expect(Buffer.byteLength(head ?? '')).toBeLessThanOrEqual(headShare(viewBytes));
        expect(Buffer.byteLength(head ?? '')).toBeGreaterThan(headShare(viewBytes) - 4);
        expect(view.output_omitted_bytes).toBe(bytes.length - Buffer.byteLength(head ?? '') - Buffer.byteLength(tail ?? ''));
        expect(view.next_page).toBe(`page:${Buffer.byteLength(head ?? '')}:${viewBytes}`);
      }
    }
  });
});
