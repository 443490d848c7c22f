// Text transcripts: a ticket, a submission or a damaged record as a terminal would show it,
// status line first (fetch tools that summarise keep first lines), then `$ cmd`, the output,
// what next and the links, labelled as wording.ts names them. Pure.
import type { DamagedEntry, Submission, TicketView } from '../protocol/types.js';
import { damagedStatusLine, replayStatusLine, statusLine, submissionStatusLine } from './statusLine.js';
import { TEXT_LINK_LABELS } from './wording.js';

/** A damaged ticket in a transcript. */
export function damagedTranscript(entry: DamagedEntry): string {
  return `${damagedStatusLine(entry)}\n`;
}

/**
 * One ticket as a terminal would show it: a status line (a replay's, when it is one), `$ cmd`,
 * the output, and what next.
 */
export function textTranscript(view: TicketView, replay: { readonly now: number } | undefined = undefined): string {
  let text = `${replay === undefined ? statusLine(view) : replayStatusLine(view, replay.now)}\n$ ${view.input}\n${view.output}`;
  if (view.output !== '' && !view.output.endsWith('\n')) text += '\n';
  if (view.next !== undefined) text += `\nNext: ${view.next}\n`;
  if (view.notice !== undefined) text += `Notice: ${view.notice}\n`;
  for (const field of ['poll', 'stdin', 'cancel', 'next_page', 'shell'] as const) {
    const link = view[field];
    if (link !== undefined) text += `${TEXT_LINK_LABELS[field]}: ${link}\n`;
  }
  return text;
}

/** A submission as text: its status line first, then what next. */
export function submissionText(view: Submission): string {
  let text = `${submissionStatusLine(view)}\n$ ${view.input}\n\nNext: ${view.next}\n`;
  if (view.notice !== undefined) text += `Notice: ${view.notice}\n`;
  return `${text}${TEXT_LINK_LABELS.poll}: ${view.poll}\n${TEXT_LINK_LABELS.cancel}: ${view.cancel}\n`;
}
