// The output an answer shows, from what was collected of the stored output for it: the whole of
// it, a window the agent asked for, or its head and tail around a notice of what is left out.
// Cuts never split a UTF-8 character. Pure.
import { headShare, type CollectedOutput } from '../protocol/outputParts.js';
import type { OutputView } from '../protocol/types.js';
import { omittedNotice, stepsFor, type Steps } from './wording.js';

/** Backs `index` off UTF-8 continuation bytes so that a cut never splits a character. */
export function charBoundary(bytes: Buffer, index: number): number {
  let i = Math.max(0, Math.min(index, bytes.length));
  while (i > 0 && i < bytes.length && ((bytes[i] ?? 0) & 0xc0) === 0x80) i -= 1;
  return i;
}

/**
 * A window shows exactly those bytes of the stored output, with `next_page` while any byte is
 * left after it. Otherwise all of it when it fits in OUTPUT_VIEW_BYTES, else its head and tail
 * with a notice between them that says what was left out and how to page to it.
 */
export function outputView(
  collected: CollectedOutput,
  totals: { outputBytes: number; truncated: boolean },
  viewBytes: number,
  pageUrl: (offset: number, limit: number) => string,
  limit?: number,
  steps: Steps = stepsFor('get', '', 0),
): OutputView {
  const stored = collected.storedBytes;
  const base = { output_bytes: totals.outputBytes, truncated: totals.truncated };
  switch (collected.kind) {
    case 'whole':
      return { output: collected.text, ...base };
    case 'window': {
      const end = collected.offset + collected.bytes.length;
      const view: OutputView = {
        output: collected.bytes.toString('utf8'),
        ...base,
        output_offset: collected.offset,
        output_stored_bytes: stored,
        output_omitted_bytes: stored - collected.bytes.length,
      };
      if (end < stored) view.next_page = pageUrl(end, limit ?? viewBytes);
      return view;
    }
    case 'head-tail': {
      const headEnd = charBoundary(collected.head, headShare(viewBytes));
      // The tail buffer starts a few bytes before the tail's share, so its cut can back off.
      const tailShare = viewBytes - headShare(viewBytes);
      const tailCut = charBoundary(collected.tail, collected.tail.length - tailShare);
      const tailStart = stored - (collected.tail.length - tailCut);
      const omitted = tailStart - headEnd;
      return {
        output: collected.head.subarray(0, headEnd).toString('utf8') + omittedNotice(omitted, headEnd, tailStart, stored, steps) + collected.tail.subarray(tailCut).toString('utf8'),
        ...base,
        output_offset: 0,
        output_stored_bytes: stored,
        output_omitted_bytes: omitted,
        next_page: pageUrl(headEnd, viewBytes),
      };
    }
  }
}
