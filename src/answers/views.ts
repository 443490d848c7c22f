// Shapes records into answers a model can read cold, and keeps them small: ready URLs only
// where they are the next step, optional fields only when they say something, `next` in plain
// words; and the text transcripts, whose first line always states ticket, status and exit code.
// Pure functions of their inputs: no I/O.
import { headShare, type CollectedOutput } from '../storage/outputCollector.js';
import type { DamagedEntry, FinishedMeta, OutputView, Submission, TicketMeta, TicketView } from '../protocol/types.js';
import { isFinished } from '../protocol/types.js';
import type { OutputWindow } from '../http/params.js';
import type { Found } from '../scheduling/scheduler.js';
import type { Access } from '../auth/tokens.js';

/** What answers need to know of the server, whoever asks. */
export interface SiteContext {
  fqdn: string;
  readonly maxWait: number;
  readonly outputViewBytes: number;
  /** A value that differs on every call: the cursor that makes each poll URL new. */
  readonly cursor: () => string;
}

/** A request's view of the site: with the credential its ready URLs carry (never a key). */
export interface ViewContext extends SiteContext {
  /** `token=…` for a URL into `session`: exec unless `read` is asked for (or all the asker has). */
  readonly credential: (session: string, access?: Access) => string;
  /** Who reads the answer: an agent fetching URLs, or an MCP client calling tools. */
  readonly front?: 'get' | 'mcp';
}

/** The next steps, in the words of the front the agent uses: URLs to GET, or tools to call. */
function steps(ctx: ViewContext, session: string, ticket: number) {
  if (ctx.front === 'mcp') {
    return {
      nextCommand: `Next command: call shell with session ${session}.`,
      poll: (wait: number) => `Call callback with session ${session}, ticket ${ticket} and wait=${wait}: it returns when the command finishes, or after ${wait} s.`,
      cancel: 'Call cancel to stop it.',
      nextPage: 'Part of the stored output is not shown: call callback with offset and limit for it.',
      runAgain: 'To run the command again, give a new nonce.',
      keepSession: `Keep session ${session} on later commands to keep this shell's directory and variables.`,
      stillPoll: 'Call callback again.',
    };
  }
  return {
    nextCommand: 'Next command: GET shell with it URL-encoded after cmd=.',
    poll: (wait: number) => `GET poll: it answers when the command finishes, or after ${wait} s.`,
    cancel: 'GET cancel to stop it.',
    nextPage: 'Part of the stored output is not shown: GET next_page for it.',
    runAgain: 'To run the command again, add &nonce=<any new value>.',
    keepSession: `Keep &session=${session} on later commands to keep this shell's directory and variables.`,
    stillPoll: 'GET poll.',
  };
}

function url(ctx: ViewContext, path: string, session: string, params: string, access?: Access): string {
  // Session names are letters, digits, _ and -: nothing in them needs encoding.
  return `${ctx.fqdn}${path}?${ctx.credential(session, access)}&session=${session}${params}`;
}

/** Makes cursors: a time and a counter, so no two answers (even across restarts) share one. */
export function cursorMaker(now: () => number = Date.now): () => string {
  let counter = 0;
  return () => {
    counter = (counter + 1) % 1296;
    return `${now().toString(36)}${counter.toString(36).padStart(2, '0')}`;
  };
}

/**
 * How long to wait before asking again, growing with how long the ticket has run, so that a
 * model polls often for quick commands and rarely for long ones. Capped by MAX_WAIT.
 */
export function suggestedWait(elapsedMs: number, maxWait: number): number {
  const seconds = elapsedMs < 10_000 ? 10 : elapsedMs < 60_000 ? 20 : 30;
  return Math.max(1, Math.min(seconds, maxWait));
}

/** The ticket view's URL; each one handed out carries a new cursor, so no cache can replay it. */
export function callbackUrl(ctx: ViewContext, session: string, ticket: number, extra = ''): string {
  return url(ctx, '/callback', session, `&ticket=${ticket}${extra}&cursor=${ctx.cursor()}`);
}

export function cancelUrl(ctx: ViewContext, session: string, ticket: number): string {
  return url(ctx, '/cancel', session, `&ticket=${ticket}`);
}

/** A prefix for the next command in a session: append the URL-encoded command. */
export function shellUrl(ctx: ViewContext, session: string): string {
  return url(ctx, '/shell', session, `&wait=${Math.min(25, ctx.maxWait)}&cmd=`);
}

export function historyUrl(ctx: ViewContext, session: string): string {
  return url(ctx, '/history', session, '');
}

/** A read-only link to the session's live page: it can neither submit nor cancel. */
export function viewUrl(ctx: ViewContext, session: string): string {
  return url(ctx, '/view', session, '', 'read');
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
      const notice =
        `\n\n[llmass: ${omitted} stored bytes not shown here (bytes ${headEnd} to ${tailStart} of ${stored}); ` +
        `GET next_page to read them.]\n\n`;
      return {
        output: collected.head.subarray(0, headEnd).toString('utf8') + notice + collected.tail.subarray(tailCut).toString('utf8'),
        ...base,
        output_offset: 0,
        output_stored_bytes: stored,
        output_omitted_bytes: omitted,
        next_page: pageUrl(headEnd, viewBytes),
      };
    }
  }
}

function describeEnd(record: FinishedMeta): string {
  switch (record.status) {
    case 'done':
      if (record.exit_code === null) return `Done: the shell was killed by ${record.signal ?? 'a signal'}.`;
      return record.exit_code === 0 ? 'Done, exit 0.' : `Done, exit ${record.exit_code}: a failure; the output says why.`;
    case 'timeout':
      return record.timeout_kind === 'idle'
        ? `Ended after ${record.idle_timeout ?? '?'} s without output (idle timeout); output so far kept.`
        : `Ended at its ${record.timeout} s time limit; output so far kept. For long work: nohup cmd > out.log 2>&1 &, then read out.log.`;
    case 'canceled':
      return 'Canceled; output so far kept.';
    case 'interrupted':
      return 'Interrupted: the server stopped while this ran, so it may not have completed. Check its effects before running it again.';
    case 'error':
      return record.reason === null ? 'Could not be started; the output says why.' : `Error: ${record.reason}`;
  }
}

/** What a truncated first view says about the bytes that are gone. */
function droppedAdvice(dropped: number): string {
  return ` ${dropped} bytes in the middle of the output were not stored (gone for good): to see them, re-run the command through grep, sed -n or tail, or write its output to a file and read that in parts.`;
}

export interface ViewOptions {
  readonly window?: OutputWindow;
  /** Tickets ahead of this one when it is queued. */
  readonly queuePosition?: number;
  /** Said to the agent about this request (a wait that was shortened). */
  readonly notice?: string;
  readonly now?: number;
}

/** The fields every ticket view has: what a history entry holds. */
function ticketFields(ctx: ViewContext, found: Found, pageUrl: (offset: number, limit: number) => string, window?: OutputWindow): TicketView {
  const record = found.meta;
  const finished = isFinished(record) ? record : undefined;
  const output = outputView(found.output, found, ctx.outputViewBytes, pageUrl, window?.limit);
  const view: TicketView = {
    type: finished !== undefined ? 'result' : 'status',
    ticket: record.ticket,
    session: record.session,
    input: record.input,
    status: record.status,
    exit_code: finished?.exit_code ?? null,
    signal: finished?.signal ?? null,
    ...output,
    submitted_at: record.submitted_at,
    started_at: record.started_at,
    finished_at: finished?.finished_at ?? null,
    duration_ms: finished?.duration_ms ?? null,
    timeout: record.timeout,
  };
  if (record.idle_timeout !== null) view.idle_timeout = record.idle_timeout;
  if (finished?.timeout_kind) view.timeout_kind = finished.timeout_kind;
  if (finished?.reason) view.reason = finished.reason;
  if (found.outputDropped !== null && found.outputDropped > 0) view.output_dropped_bytes = found.outputDropped;
  if (found.background.length > 0) view.background = found.background;
  return view;
}

/** A ticket in a history: its fields, no URLs, no advice. */
export function historyEntry(ctx: ViewContext, found: Found): TicketView {
  return ticketFields(ctx, found, (offset, limit) => callbackUrl(ctx, found.meta.session, found.meta.ticket, `&offset=${offset}&limit=${limit}`));
}

export function ticketView(ctx: ViewContext, found: Found, options: ViewOptions = {}): TicketView {
  const record = found.meta;
  const { session, ticket } = record;
  const pageUrl = (offset: number, limit: number): string => callbackUrl(ctx, session, ticket, `&offset=${offset}&limit=${limit}`);
  const view = ticketFields(ctx, found, pageUrl, options.window);
  if (options.notice !== undefined) view.notice = options.notice;

  const say = steps(ctx, session, ticket);
  let next: string;
  if (isFinished(record)) {
    view.shell = shellUrl(ctx, session);
    next = `${describeEnd(record)} ${say.nextCommand}`;
    if (view.background !== undefined) next += ` Still running in the background: ${view.background.map((p) => `pid ${p.pid}`).join(', ')}.`;
  } else {
    const elapsedMs = Math.max(0, (options.now ?? Date.now()) - Date.parse(record.started_at ?? record.submitted_at));
    const waitSeconds = suggestedWait(elapsedMs, ctx.maxWait);
    view.poll = callbackUrl(ctx, session, ticket, `&wait=${waitSeconds}`);
    view.cancel = cancelUrl(ctx, session, ticket);
    if (record.status === 'queued') {
      const ahead = options.queuePosition ?? 0;
      next = `Queued${ahead > 0 ? ` behind ${ahead} ticket(s)` : ''}. ${say.poll(waitSeconds)}`;
    } else if (found.note !== undefined) {
      next = `${found.note} ${say.stillPoll}`;
    } else {
      next = `Running for ${Math.round(elapsedMs / 1000)} s; output so far shown. ${say.poll(waitSeconds)} ${say.cancel}`;
    }
  }
  if (view.output_dropped_bytes !== undefined && options.window === undefined) next += droppedAdvice(view.output_dropped_bytes);
  if (view.next_page !== undefined) next += ` ${say.nextPage}`;
  view.next = next;
  return view;
}

/** A history entry for a ticket whose record is damaged: the problem, never the file's bytes. */
export function damagedEntry(session: string, ticket: number, problem: string): DamagedEntry {
  return { type: 'damaged', ticket, session, error: `ticket ${ticket}'s record on disk is damaged: ${problem}` };
}

export interface SubmissionOptions {
  /** When this answer replays an earlier identical submission: when that one was made. */
  readonly replayOf?: { readonly submittedAt: number };
  readonly notice?: string;
  readonly now?: number;
}

export function submissionView(ctx: ViewContext, record: TicketMeta, options: SubmissionOptions = {}): Submission {
  const { session, ticket } = record;
  const waitSeconds = suggestedWait(0, ctx.maxWait);
  const state = isFinished(record) ? `It has ended (${record.status}).` : `It is ${record.status}.`;
  const say = steps(ctx, session, ticket);
  let first: string;
  if (options.replayOf !== undefined) {
    const ago = Math.max(0, Math.round(((options.now ?? Date.now()) - options.replayOf.submittedAt) / 1000));
    first = `Not run again: this is a replay of ticket ${ticket}, the same request made ${ago} s ago in session ${session}. ${state} ${say.runAgain}`;
  } else {
    first = `Accepted as ticket ${ticket} in session ${session}. ${state}`;
  }
  const view: Submission = {
    type: 'submission',
    ticket,
    session,
    input: record.input,
    status: record.status,
    cached: options.replayOf !== undefined,
    callback: callbackUrl(ctx, session, ticket),
    poll: callbackUrl(ctx, session, ticket, `&wait=${waitSeconds}`),
    cancel: cancelUrl(ctx, session, ticket),
    next: `${first} ${say.poll(waitSeconds)} ${say.keepSession}`,
  };
  if (options.notice !== undefined) view.notice = options.notice;
  return view;
}

/** A status line: `[ticket 3 · done · exit 0 · 12 ms]`. Every text answer starts with one. */
export function statusLine(view: Pick<TicketView, 'ticket' | 'status' | 'exit_code' | 'signal' | 'timeout_kind' | 'duration_ms'>): string {
  const parts = [`ticket ${view.ticket}`, view.status];
  if (view.exit_code !== null) parts.push(`exit ${view.exit_code}`);
  if (view.signal !== null) parts.push(`signal ${view.signal}`);
  if (view.timeout_kind !== undefined) parts.push(`${view.timeout_kind} timeout`);
  if (view.duration_ms !== null) parts.push(`${view.duration_ms} ms`);
  return `[${parts.join(' · ')}]`;
}

/** A damaged ticket in a transcript. */
export function damagedTranscript(entry: DamagedEntry): string {
  return `[ticket ${entry.ticket} · damaged: ${entry.error}]\n`;
}

/** One ticket as a terminal would show it: a status line, `$ cmd`, the output, and what next. */
export function textTranscript(view: TicketView): string {
  let text = `${statusLine(view)}\n$ ${view.input}\n${view.output}`;
  if (view.output !== '' && !view.output.endsWith('\n')) text += '\n';
  if (view.next !== undefined) text += `\nNext: ${view.next}\n`;
  if (view.notice !== undefined) text += `Notice: ${view.notice}\n`;
  for (const [label, link] of [['Poll', view.poll], ['Cancel', view.cancel], ['Next page', view.next_page], ['Shell', view.shell]]) {
    if (link !== undefined) text += `${label}: ${link}\n`;
  }
  return text;
}

/** A submission as text: its status line first, then what next. */
export function submissionText(view: Submission): string {
  let text = `[ticket ${view.ticket} · ${view.status} · exit none yet]\n$ ${view.input}\n\nNext: ${view.next}\n`;
  if (view.notice !== undefined) text += `Notice: ${view.notice}\n`;
  return `${text}Poll: ${view.poll}\nCancel: ${view.cancel}\n`;
}
