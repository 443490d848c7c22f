// Shapes a ticket into the answers a model reads cold, and keeps them small: ready URLs only
// where they are the next step, optional fields only when they say something, `next` in plain
// words (wording.ts). The ticket view, a history entry, a damaged entry, a submission. Pure.
import type { DamagedEntry, QueuedBehind, Submission, TicketMeta, TicketView } from '../protocol/types.js';
import { isFinished } from '../protocol/types.js';
import type { OutputWindow } from '../protocol/outputParts.js';
import type { TicketState } from '../protocol/ticketState.js';
import { callbackUrl, cancelUrl, pageUrl, shellUrl, stdinUrl, suggestedWait } from './links.js';
import { charBoundary, outputView } from './outputView.js';
import type { ViewContext } from './viewContext.js';
import { describePending, cutCommandAdvice, describeEnd, describeQueued, describeReplay, describeTerminal, droppedAdvice, secondsAgo, stepsFor, type Steps } from './wording.js';
import type { QueueStanding } from '../protocol/ticketState.js';

/** How much of a command an answer echoes: a long one (a file sent in base64) is not echoed whole. */
export const INPUT_SHOWN_BYTES = 1024;

/** The command as an answer shows it: whole, or its first KiB with a line saying how to see all. */
function shownInput(input: string, full: boolean, steps: Steps): { input: string; input_bytes?: number } {
  const bytes = Buffer.byteLength(input, 'utf8');
  if (full || bytes <= INPUT_SHOWN_BYTES) return { input };
  const encoded = Buffer.from(input, 'utf8');
  const head = encoded.subarray(0, charBoundary(encoded, INPUT_SHOWN_BYTES)).toString('utf8');
  return { input: `${head}… [llmass: the command is ${bytes} bytes; ${steps.wholeInput}]`, input_bytes: bytes };
}

export interface ViewOptions {
  readonly window?: OutputWindow;
  /** input=full: the whole command, however long. */
  readonly fullInput?: boolean;
  /** Where it stands when it is queued. */
  readonly queue?: QueueStanding;
  /** When this answer replays an earlier identical submission: when that one was made. */
  readonly replayOf?: { readonly submittedAt: number };
  /** Said to the agent about this request (a wait that was shortened). */
  readonly notice?: string;
  readonly now?: number;
}

/** The fields every ticket view has: what a history entry holds. */
function ticketFields(ctx: ViewContext, found: TicketState, window?: OutputWindow, fullInput = false): TicketView {
  const record = found.meta;
  const { session, ticket } = record;
  const finished = isFinished(record) ? record : undefined;
  const page = (offset: number, limit: number): string => pageUrl(ctx, session, ticket, offset, limit);
  const output = outputView(found.output, found, ctx.outputViewBytes, page, window?.limit, stepsFor(ctx.front, session, ticket));
  const view: TicketView = {
    type: finished !== undefined ? 'result' : 'status',
    ticket,
    session,
    ...shownInput(record.input, fullInput, stepsFor(ctx.front, session, ticket)),
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
  if (record.tty !== null) {
    view.tty = true;
    view.stdin_writes = found.terminal?.stdinWrites ?? (finished?.stdin_writes ?? 0);
    if (found.terminal !== undefined) view.quiet_ms = found.terminal.quietMs;
  }
  if (finished?.timeout_kind) view.timeout_kind = finished.timeout_kind;
  if (finished?.reason) view.reason = finished.reason;
  if (record.approval !== undefined) view.approval = record.approval;
  if (finished?.background_ended !== undefined) view.background_ended = finished.background_ended.count;
  if (found.outputDropped !== null && found.outputDropped > 0) view.output_dropped_bytes = found.outputDropped;
  if (found.background.length > 0) view.background = found.background;
  return view;
}

/** A ticket in a history: its fields, no URLs, no advice. */
export function historyEntry(ctx: ViewContext, found: TicketState): TicketView {
  return ticketFields(ctx, found);
}

export function ticketView(ctx: ViewContext, found: TicketState, options: ViewOptions = {}): TicketView {
  const record = found.meta;
  const { session, ticket } = record;
  const view = ticketFields(ctx, found, options.window, options.fullInput);
  if (options.notice !== undefined) view.notice = options.notice;

  const say = stepsFor(ctx.front, session, ticket);
  let next: string;
  const now = options.now ?? Date.now();
  if (isFinished(record)) {
    view.shell = shellUrl(ctx, session);
    next = `${describeEnd(record)}${ctx.front === 'mcp' ? '' : cutCommandAdvice(record, view.output)} ${say.nextCommand}`;
    if (options.replayOf !== undefined) {
      next = `${describeReplay(ticket, session, secondsAgo(options.replayOf.submittedAt, now), secondsAgo(Date.parse(record.finished_at), now), say)} ${next}`;
    }
    if (view.background !== undefined) next += ` Still running in the background: ${view.background.map((p) => `pid ${p.pid}`).join(', ')}.`;
    if (record.background_ended?.why === 'process-limit') {
      next += ` The ${record.background_ended.count} process(es) it left running were ended at ${record.background_ended.at}: they held the command user's process limit (COMMAND_MAX_PROCESSES), which later commands need.`;
    }
  } else {
    const elapsedMs = Math.max(0, now - Date.parse(record.started_at ?? record.submitted_at));
    const waitSeconds = suggestedWait(elapsedMs, ctx.maxWait);
    view.poll = callbackUrl(ctx, session, ticket, `&wait=${waitSeconds}`);
    view.cancel = cancelUrl(ctx, session, ticket);
    if (record.status === 'pending') {
      next = `${describePending(ctx.approvalTimeout)} ${say.poll(waitSeconds)}`;
    } else if (record.status === 'queued') {
      next = `${queuedState(view, options.queue)} ${say.poll(waitSeconds)}`;
    } else if (found.note !== undefined) {
      next = `${found.note} ${say.stillPoll}`;
    } else if (found.terminal !== undefined) {
      view.stdin = stdinUrl(ctx, session, ticket, found.terminal.stdinWrites + 1);
      next = `Running for ${Math.round(elapsedMs / 1000)} s. ${describeTerminal(found.terminal.quietMs)} ${say.typeInto} ${say.poll(waitSeconds)} ${say.cancel}`;
    } else {
      next = `Running for ${Math.round(elapsedMs / 1000)} s; output so far shown. ${say.poll(waitSeconds)} ${say.cancel}`;
    }
  }
  if (view.output_dropped_bytes !== undefined && options.window === undefined) next += droppedAdvice(view.output_dropped_bytes);
  if (view.next_page !== undefined) next += ` ${say.nextPage}`;
  view.next = next;
  return view;
}

/** A queued ticket's place and what holds it, set on its view and said in words. */
function queuedState(view: { queue_position?: number; queued_behind?: QueuedBehind }, queue: QueueStanding | undefined): string {
  if (queue === undefined) return 'Queued.';
  view.queue_position = queue.position;
  view.queued_behind = queue.behind;
  return describeQueued(queue.position, queue.behind);
}

/** A history entry for a ticket whose record is damaged: the problem, never the file's bytes. */
export function damagedEntry(session: string, ticket: number, problem: string): DamagedEntry {
  return { type: 'damaged', ticket, session, error: `ticket ${ticket}'s record on disk is damaged: ${problem}` };
}

export interface SubmissionOptions {
  /** When this answer replays an earlier identical submission: when that one was made. */
  readonly replayOf?: { readonly submittedAt: number };
  /** Where it stands when it is queued. */
  readonly queue?: QueueStanding;
  readonly notice?: string;
  readonly now?: number;
}

export function submissionView(ctx: ViewContext, record: TicketMeta, options: SubmissionOptions = {}): Submission {
  const { session, ticket } = record;
  const waitSeconds = suggestedWait(0, ctx.maxWait);
  const say = stepsFor(ctx.front, session, ticket);
  const queued: { queue_position?: number; queued_behind?: QueuedBehind } = {};
  const state = isFinished(record)
    ? `It has ended (${record.status}).`
    : record.status === 'pending'
      ? describePending(ctx.approvalTimeout)
      : record.status === 'queued'
        ? queuedState(queued, options.queue)
        : `It is ${record.status}.`;
  const first =
    options.replayOf !== undefined
      ? `${describeReplay(ticket, session, secondsAgo(options.replayOf.submittedAt, options.now ?? Date.now()), null, say)} ${state}`
      : `Accepted as ticket ${ticket} in session ${session}. ${state}`;
  const view: Submission = {
    type: 'submission',
    ticket,
    session,
    ...shownInput(record.input, false, say),
    status: record.status,
    cached: options.replayOf !== undefined,
    callback: callbackUrl(ctx, session, ticket),
    poll: callbackUrl(ctx, session, ticket, `&wait=${waitSeconds}`),
    cancel: cancelUrl(ctx, session, ticket),
    ...queued,
    next: `${first} ${say.poll(waitSeconds)} ${say.keepSession}`,
  };
  if (options.notice !== undefined) view.notice = options.notice;
  return view;
}
