// Shapes records into answers a model can read cold: the ticket view with its output view,
// ready-made URLs, a suggested wait, and `next` in plain words; and the text transcript.
// Pure functions of their inputs: no I/O.
import { headShare, type CollectedOutput } from './outputCollector.js';
import type { DamagedEntry, FinishedMeta, Links, OutputView, Submission, TicketMeta, TicketView } from './protocol.js';
import { isFinal, isFinished } from './protocol.js';
import type { OutputWindow } from './params.js';
import type { Found } from './scheduler.js';

export interface ViewContext {
  fqdn: string;
  readonly hash: string;
  readonly maxWait: number;
  readonly outputViewBytes: number;
}

function url(ctx: ViewContext, path: string, params: string): string {
  return `${ctx.fqdn}${path}?hash=${encodeURIComponent(ctx.hash)}&${params}`;
}

/**
 * How long to wait before asking again, growing with how long the ticket has run, so that a
 * model polls often for quick commands and rarely for long ones. Capped by MAX_WAIT.
 */
export function suggestedWait(elapsedMs: number, maxWait: number): number {
  const seconds = elapsedMs < 10_000 ? 10 : elapsedMs < 60_000 ? 20 : 30;
  return Math.max(1, Math.min(seconds, maxWait));
}

export function links(ctx: ViewContext, session: string, ticket: number, waitSeconds: number): Links {
  // Session names are letters, digits, _ and -: nothing in them needs encoding.
  const callback = url(ctx, '/callback', `session=${session}&ticket=${ticket}`);
  return {
    callback,
    poll: `${callback}&wait=${waitSeconds}`,
    cancel: url(ctx, '/cancel', `session=${session}&ticket=${ticket}`),
    history: url(ctx, '/history', `session=${session}`),
    shell: url(ctx, '/shell', `session=${session}&wait=${Math.min(25, ctx.maxWait)}&cmd=`),
  };
}

/** Backs `index` off UTF-8 continuation bytes so that a cut never splits a character. */
function charBoundary(bytes: Buffer, index: number): number {
  let i = Math.max(0, Math.min(index, bytes.length));
  while (i > 0 && i < bytes.length && ((bytes[i] ?? 0) & 0xc0) === 0x80) i -= 1;
  return i;
}

/**
 * The output an answer shows, from what was collected for it. A window shows exactly those
 * bytes of the stored output. Otherwise all of it when it fits in OUTPUT_VIEW_BYTES, else its
 * head and tail with a notice between them that says what was left out and how to page to it.
 */
export function outputView(
  collected: CollectedOutput,
  totals: { outputBytes: number; truncated: boolean },
  viewBytes: number,
  pageUrl: (offset: number, limit: number) => string,
  limit?: number,
): OutputView {
  const stored = collected.storedBytes;
  const base = { output_bytes: totals.outputBytes, truncated: totals.truncated, output_stored_bytes: stored };
  switch (collected.kind) {
    case 'whole':
      return { ...base, output: collected.text, output_offset: 0, output_omitted_bytes: 0 };
    case 'window': {
      const end = collected.offset + collected.bytes.length;
      const view: OutputView = {
        ...base,
        output: collected.bytes.toString('utf8'),
        output_offset: collected.offset,
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
      const notice =
        `\n\n[llmass: ${omitted} bytes of output not shown here (stored bytes ${headEnd} to ${tailStart} of ${stored}). ` +
        `To read them, GET next_page, or add &offset=${headEnd}&limit=${viewBytes} to the callback URL.]\n\n`;
      return {
        ...base,
        output: collected.head.subarray(0, headEnd).toString('utf8') + notice + collected.tail.subarray(tailCut).toString('utf8'),
        output_offset: 0,
        output_omitted_bytes: omitted,
        next_page: pageUrl(headEnd, viewBytes),
      };
    }
  }
}

function describeEnd(record: FinishedMeta): string {
  switch (record.status) {
    case 'done':
      return record.exit_code !== null
        ? `Finished with exit code ${record.exit_code}${record.exit_code === 0 ? '' : ' (a failure: read the output for why)'}.`
        : `Finished: the shell was killed by ${record.signal ?? 'a signal'}.`;
    case 'timeout':
      return record.timeout_kind === 'idle'
        ? `Ended after printing nothing for ${record.idle_timeout ?? '?'} s (idle timeout); the output so far is kept.`
        : `Ended at its time limit of ${record.timeout} s; the output so far is kept. For longer work, run it in the background with output to a file (nohup cmd > out.log 2>&1 &) and read the file later.`;
    case 'canceled':
      return 'Canceled; any output so far is kept.';
    case 'interrupted':
      return 'Interrupted: the server stopped while this ticket was queued or running, so it may not have completed. Check its effects before running it again.';
    case 'error':
      return 'Could not be started; the output says why.';
  }
}

export interface ViewOptions {
  readonly window?: OutputWindow;
  /** Tickets ahead of this one when it is queued. */
  readonly queuePosition?: number;
  readonly now?: number;
}

export function ticketView(ctx: ViewContext, found: Found, options: ViewOptions = {}): TicketView {
  const now = options.now ?? Date.now();
  const record = found.meta;
  const finished = isFinished(record) ? record : undefined;
  const since = Date.parse(record.started_at ?? record.submitted_at);
  const elapsedMs = Math.max(0, now - since);
  const waitSeconds = suggestedWait(elapsedMs, ctx.maxWait);
  const link = links(ctx, record.session, record.ticket, waitSeconds);
  const pageUrl = (offset: number, limit: number): string => `${link.callback}&offset=${offset}&limit=${limit}`;
  const output = outputView(found.output, found, ctx.outputViewBytes, pageUrl, options.window?.limit);

  let next: string;
  if (finished !== undefined) {
    next = `${describeEnd(finished)} To run another command in this session, GET the shell URL with your command URL-encoded after cmd=.`;
  } else if (record.status === 'queued') {
    const ahead = options.queuePosition ?? 0;
    next = `Queued${ahead > 0 ? ` behind ${ahead} other ticket(s)` : ''}; it has not started. GET the poll URL: it answers as soon as the ticket finishes, or after ${waitSeconds} s.`;
  } else if (found.note !== undefined) {
    next = `${found.note} GET the poll URL.`;
  } else {
    next = `Still running (${Math.round(elapsedMs / 1000)} s so far; the output so far is shown). GET the poll URL: it answers as soon as the command finishes, or after ${waitSeconds} s. GET the cancel URL to stop it.`;
  }
  if (output.next_page !== undefined) next += ' Part of the output is not shown: GET next_page for the next part.';

  const view: TicketView = {
    type: finished !== undefined ? 'result' : 'status',
    ticket: record.ticket,
    session: record.session,
    input: record.input,
    status: record.status,
    exit_code: finished?.exit_code ?? null,
    signal: finished?.signal ?? null,
    timeout_kind: finished?.timeout_kind ?? null,
    ...output,
    submitted_at: record.submitted_at,
    started_at: record.started_at,
    finished_at: finished?.finished_at ?? null,
    duration_ms: finished?.duration_ms ?? null,
    timeout: record.timeout,
    idle_timeout: record.idle_timeout,
    ...link,
    next,
  };
  if (finished === undefined) view.wait_seconds = waitSeconds;
  return view;
}

/** A history entry for a ticket whose record is damaged: the problem, never the file's bytes. */
export function damagedEntry(session: string, ticket: number, problem: string): DamagedEntry {
  return { type: 'damaged', ticket, session, error: `ticket ${ticket}'s record on disk is damaged: ${problem}` };
}

export function submissionView(ctx: ViewContext, record: TicketMeta, cached: boolean): Submission {
  const waitSeconds = suggestedWait(0, ctx.maxWait);
  const link = links(ctx, record.session, record.ticket, waitSeconds);
  const state = isFinal(record.status) ? `It has already ended (${record.status}).` : `It is ${record.status}.`;
  const first = cached
    ? `This exact command was already submitted to session ${record.session} moments ago, so it was not run again: this is ticket ${record.ticket}. ${state} To run it again on purpose, add &nonce=<any new value> to the URL.`
    : `Accepted as ticket ${record.ticket} in session ${record.session}. ${state}`;
  return {
    type: 'submission',
    ticket: record.ticket,
    session: record.session,
    input: record.input,
    status: record.status,
    cached,
    wait_seconds: waitSeconds,
    ...link,
    next: `${first} GET the poll URL for the result: it answers as soon as the command finishes, or after ${waitSeconds} s. Keep &session=${record.session} on later commands to keep this shell's directory and variables.`,
  };
}

/** A status line for transcripts: `[ticket 3 · done · exit 0 · 12 ms]`. */
function statusLine(view: TicketView): string {
  const parts = [`ticket ${view.ticket}`, view.status];
  if (view.exit_code !== null) parts.push(`exit ${view.exit_code}`);
  if (view.signal !== null) parts.push(`signal ${view.signal}`);
  if (view.timeout_kind !== null) parts.push(`${view.timeout_kind} timeout`);
  if (view.duration_ms !== null) parts.push(`${view.duration_ms} ms`);
  return `[${parts.join(' · ')}]`;
}

/** A damaged ticket in a transcript. */
export function damagedTranscript(entry: DamagedEntry): string {
  return `[ticket ${entry.ticket} · damaged: ${entry.error}]\n`;
}

/** One ticket as a terminal would show it: `$ cmd`, the output, a status line, what next. */
export function textTranscript(view: TicketView, withNext: boolean): string {
  let text = `$ ${view.input}\n${view.output}`;
  if (view.output !== '' && !view.output.endsWith('\n')) text += '\n';
  text += `${statusLine(view)}\n`;
  if (withNext) text += `\nNext: ${view.next}\n${view.type === 'status' ? `Poll: ${view.poll}\n` : ''}Shell: ${view.shell}\n`;
  return text;
}
