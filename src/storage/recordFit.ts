// Making a final record fit a full disk. A command whose output filled the sessions disk must
// still finish: waiting for room only it can free would hold its session for ever. So when the
// final record does not fit, the ticket first gives up its spool (the output is in the record
// already), then keeps less of its output each time, head and tail with a line saying how much
// was not stored, down to a few KiB; only a record that small that still does not fit waits for
// room. Pure: finisher.ts tries, runningTickets.ts frees the spool.
import type { FinishedTicket } from '../protocol/types.js';

/** Below this many characters of output a record is not cut further: it waits for room instead. */
export const SMALLEST_CUT = 4096;

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/** Moves a cut index off the middle of a surrogate pair, so no character is split. */
function atCharacter(text: string, index: number): number {
  return index > 0 && index < text.length && isLowSurrogate(text.charCodeAt(index)) ? index - 1 : index;
}

export function notStoredNote(bytes: number): string {
  return `\n\n[llmass: ${bytes} bytes of output were not stored: the sessions disk was full when the result was written; the stored output keeps its first and last parts]\n\n`;
}

/**
 * The same record keeping half as much of its output (its head and its tail), marked truncated,
 * with the bytes left out counted; undefined when the output is already SMALLEST_CUT or less.
 */
export function withHalfTheOutput(record: FinishedTicket): FinishedTicket | undefined {
  const { output } = record;
  if (output.length <= SMALLEST_CUT) return undefined;
  const keep = Math.floor(output.length / 4);
  const headEnd = atCharacter(output, keep);
  const tailStart = atCharacter(output, output.length - keep);
  const dropped = Buffer.byteLength(output.slice(headEnd, tailStart), 'utf8');
  return {
    ...record,
    truncated: true,
    output_dropped_bytes: (record.output_dropped_bytes ?? 0) + dropped,
    output: output.slice(0, headEnd) + notStoredNote(dropped) + output.slice(tailStart),
  };
}
