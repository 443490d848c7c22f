// The protocol's nouns as types: statuses, the ticket record kept on disk, and the answers.
// Names follow PROTOCOL.md exactly; these are the words of the JSON, the code and the README.

export type ActiveStatus = 'pending' | 'queued' | 'running';
export type FinalStatus = 'done' | 'timeout' | 'canceled' | 'interrupted' | 'error' | 'denied';
export type TicketStatus = ActiveStatus | FinalStatus;
export type TimeoutKind = 'hard' | 'idle';

export const FINAL_STATUSES: readonly FinalStatus[] = ['done', 'timeout', 'canceled', 'interrupted', 'error', 'denied'];

export function isFinalStatus(value: unknown): value is FinalStatus {
  return FINAL_STATUSES.some((status) => status === value);
}

export function isFinal(status: TicketStatus): status is FinalStatus {
  return isFinalStatus(status);
}

/** What the submitter asked for, kept with the ticket so the record explains itself. */
/** A terminal's size, in characters (tty=1). */
export interface TerminalSize {
  readonly cols: number;
  readonly rows: number;
}

/** A terminal's screen as an emulator renders it: every row, trailing spaces trimmed; the cursor from 0. */
export interface Screen extends TerminalSize {
  readonly cursor: { readonly row: number; readonly col: number };
  readonly lines: readonly string[];
}

export interface TicketRequest {
  /** Run on a pseudo-terminal of this size (tty=1), or null: stdin is /dev/null. */
  readonly tty: TerminalSize | null;
  readonly input: string;
  /** Seconds: the hard limit applied to this ticket (never above COMMAND_TIMEOUT). */
  readonly timeout: number;
  /** Seconds of silence after which the command is ended, or null. */
  readonly idle_timeout: number | null;
  readonly nonce: string | null;
}

/** What every record keeps from its submission, whatever its status. */
export interface TicketBase extends TicketRequest {
  readonly ticket: number;
  readonly session: string;
  readonly submitted_at: string;
  /** The name of the key that submitted it (HASH for the operator's); null in older records. */
  readonly key: string | null;
  /**
   * The ticket's tracking id (its cgroup and environment marker), chosen when it is submitted:
   * a restart after a crash ends every process it started by it. Null in older records.
   */
  readonly process_marker: string | null;
  /** A person's decision on a ticket of an approve=always key; absent on tickets that needed none. */
  readonly approval?: Approval;
}

export interface LeftoversEnded {
  readonly count: number;
  readonly at: string;
  readonly why: 'cancel' | 'process-limit';
}

/** Who decided a pending ticket, and when: HASH, an approval link, or the timeout. */
export interface Approval {
  readonly decision: 'approved' | 'denied';
  readonly by: 'HASH' | 'link' | 'timeout';
  readonly at: string;
}

/** Waiting to start (queued), or first for a person's approval (pending: it takes no slot). */
export interface QueuedTicket extends TicketBase {
  readonly status: 'queued' | 'pending';
  readonly started_at: null;
}

export interface RunningTicket extends TicketBase {
  readonly status: 'running';
  readonly started_at: string;
  /** The command's process group: what a restart after a crash kills if it is still there. */
  readonly process_group: number;
  /** The group leader's start time in clock ticks since boot (/proc/<pid>/stat), to tell it from a reused PID. */
  readonly process_started: number | null;
}

/** A finished ticket's record without its output: what a view needs besides the output. */
export interface FinishedMeta extends TicketBase {
  readonly status: FinalStatus;
  readonly started_at: string | null;
  readonly finished_at: string;
  readonly duration_ms: number | null;
  readonly exit_code: number | null;
  readonly signal: string | null;
  readonly timeout_kind: TimeoutKind | null;
  /** Every byte the command wrote, stored or not. */
  readonly output_bytes: number;
  readonly truncated: boolean;
  /** Bytes written but not stored (gone for good); null in records older than this field. */
  readonly output_dropped_bytes: number | null;
  /** Processes left running in the background when the ticket finished. */
  readonly background: readonly BackgroundProcess[];
  /** Its leftovers were ended after it finished: how many, when, and why (a cancel, or its user's process limit). */
  readonly background_ended?: LeftoversEnded;
  /** Why it ended as it did, in words, where the status alone does not tell (error: why nothing ran); null otherwise. */
  readonly reason: string | null;
  /** A tty=1 ticket's last screen; null otherwise. */
  readonly screen: Screen | null;
  /** Writes to its terminal that were accepted (/stdin). */
  readonly stdin_writes: number;
}

export interface FinishedTicket extends FinishedMeta {
  /** Merged stdout and stderr as stored: head and tail with a marker when truncated. */
  readonly output: string;
}

/** The durable record: `<n>.ticket` holds exactly this, as JSON. */
export type TicketRecord = QueuedTicket | RunningTicket | FinishedTicket;

/** A record as read back, its output left where it is (the output is read separately, in part). */
export type TicketMeta = QueuedTicket | RunningTicket | FinishedMeta;

export function isFinished(meta: TicketMeta): meta is FinishedMeta {
  return meta.status !== 'queued' && meta.status !== 'running' && meta.status !== 'pending';
}

/** Not started yet: queued, or pending a person's approval. */
export function isWaiting(meta: TicketMeta): meta is QueuedTicket {
  return meta.status === 'queued' || meta.status === 'pending';
}

/** A history entry for a ticket whose record on disk cannot be read. */
export interface DamagedEntry {
  type: 'damaged';
  ticket: number;
  session: string;
  error: string;
}

/** Output as an answer shows it: the stored bytes, or a window or head+tail of them. */
/** A process a finished ticket left running in the background (in its process group). */
export interface BackgroundProcess {
  readonly pid: number;
  /** Its start time in clock ticks since boot, to tell it from a later process with its PID. */
  readonly started: number | null;
  readonly command: string;
}

/** Output as an answer shows it: the stored bytes, or a window or head+tail of them. */
export interface OutputView {
  output: string;
  output_bytes: number;
  truncated: boolean;
  /** When truncated: bytes the command wrote that were not stored (gone for good). */
  output_dropped_bytes?: number;
  /** Where `output` starts in the stored output: given with a window, or when part is not shown. */
  output_offset?: number;
  /** Bytes of stored output (what offset/limit page through): given with output_offset. */
  output_stored_bytes?: number;
  /** Bytes of stored output left out of `output` by this view: given with output_offset. */
  output_omitted_bytes?: number;
  /** A ready URL for the next window when part of the stored output is not shown. */
  next_page?: string;
}

/** What holds a queued ticket: its session's earlier ticket, or every command slot being busy. */
export type QueuedBehind =
  | { readonly kind: 'session'; readonly ticket: number }
  | { readonly kind: 'slots'; readonly running: number; readonly max_concurrency: number; readonly sessions: readonly string[] };

export interface TicketView extends OutputView {
  type: 'status' | 'result';
  ticket: number;
  session: string;
  input: string;
  /** The whole command's length, when `input` shows only its first KiB. */
  input_bytes?: number;
  status: TicketStatus;
  exit_code: number | null;
  signal: string | null;
  /** With status timeout: hard (the time limit) or idle (no output for idle_timeout). */
  timeout_kind?: TimeoutKind;
  /** Why it ended as it did, where the status alone does not tell (error: why nothing ran). */
  reason?: string;
  submitted_at: string;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  /** Seconds: the ticket's time limit. */
  timeout: number;
  /** Seconds of silence that end the command, when set. */
  idle_timeout?: number;
  /** Processes the finished ticket left running in the background, while they run. */
  background?: Array<{ pid: number; command: string }>;
  /** A person's decision, on a ticket that waited for one. */
  approval?: Approval;
  /** Leftover processes a cancel of the finished ticket ended. */
  background_ended?: number;
  /** Unfinished: the callback URL with a long-poll wait. It changes with every answer. */
  poll?: string;
  /** Unfinished: stops the command. */
  cancel?: string;
  /** Finished: a prefix for the next command in this session: append the URL-encoded command. */
  shell?: string;
  /** A command on a terminal (tty=1). */
  tty?: boolean;
  /** tty=1: writes to its terminal accepted so far. */
  stdin_writes?: number;
  /** tty=1, running: milliseconds since its last output. */
  quiet_ms?: number;
  /** tty=1, running: a prefix for the next write (append the URL-encoded text). */
  stdin?: string;
  /** Queued: its place in the queue, 1 for the first to start when room comes. */
  queue_position?: number;
  /** Queued: what holds it. */
  queued_behind?: QueuedBehind;
  /** Something about this request the agent should know (a wait that was shortened). */
  notice?: string;
  /** What to do now, in words; history entries leave it out. */
  next?: string;
}

export interface Submission {
  type: 'submission';
  ticket: number;
  session: string;
  input: string;
  input_bytes?: number;
  status: TicketStatus;
  cached: boolean;
  /** The ticket view; it changes with every answer. */
  callback: string;
  /** The callback URL with a long-poll wait. */
  poll: string;
  cancel: string;
  queue_position?: number;
  queued_behind?: QueuedBehind;
  notice?: string;
  next: string;
}

export interface ErrorAnswer {
  error: string;
  hint: string;
}
