// Ticket records: the one place a final record is built, and the one check every record read
// back from disk goes through. A record that fails the check is a damaged ticket (DamagedRecord,
// whose message names the problem and never quotes the file), not a broken server.
import { isFinalStatus, type Approval, type BackgroundProcess, type FinalStatus, type FinishedTicket, type LeftoversEnded, type Screen, type TerminalSize, type TicketBase, type TicketMeta, type TimeoutKind } from '../protocol/types.js';

export class DamagedRecord extends Error {}

/** What ended a ticket, as the record keeps it. */
export interface Ending {
  readonly status: FinalStatus;
  readonly startedAt: Date | null;
  readonly finishedAt: Date;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timeoutKind: TimeoutKind | null;
  readonly output: string;
  readonly outputBytes: number;
  readonly truncated: boolean;
  readonly droppedBytes: number;
  readonly background: readonly BackgroundProcess[];
  /** Why it ended as it did, where the status alone does not tell (error: why nothing ran). */
  readonly reason?: string;
  /** A tty=1 ticket's last screen. */
  readonly screen?: Screen | null;
  readonly stdinWrites?: number;
  /** A decision made as it ended (a denial); else the submission's, if any. */
  readonly approval?: Approval;
}

/** The final record of a ticket: built here only, whoever ends the ticket. */
export function finalRecord(base: TicketBase, ending: Ending): FinishedTicket {
  return {
    ticket: base.ticket,
    session: base.session,
    input: base.input,
    tty: base.tty,
    timeout: base.timeout,
    idle_timeout: base.idle_timeout,
    nonce: base.nonce,
    submitted_at: base.submitted_at,
    key: base.key,
    process_marker: base.process_marker,
    ...(ending.approval ?? base.approval ? { approval: ending.approval ?? base.approval } : {}),
    status: ending.status,
    started_at: ending.startedAt?.toISOString() ?? null,
    finished_at: ending.finishedAt.toISOString(),
    duration_ms: ending.startedAt === null ? null : Math.max(0, ending.finishedAt.getTime() - ending.startedAt.getTime()),
    exit_code: ending.exitCode,
    signal: ending.signal,
    timeout_kind: ending.timeoutKind,
    output_bytes: ending.outputBytes,
    truncated: ending.truncated,
    output_dropped_bytes: ending.droppedBytes,
    background: ending.background,
    reason: ending.reason ?? null,
    screen: ending.screen ?? null,
    stdin_writes: ending.stdinWrites ?? 0,
    // Last: a reader can then find everything else before the (possibly large) output.
    output: ending.output,
  };
}

type Fields = Readonly<Record<string, unknown>>;

function fail(problem: string): never {
  throw new DamagedRecord(problem);
}

function wholeNumber(fields: Fields, name: string, min: number): number {
  const value = fields[name];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) fail(`${name} is not a whole number of at least ${min}`);
  return value;
}

function wholeOrNull(fields: Fields, name: string, min: number): number | null {
  return fields[name] === null ? null : wholeNumber(fields, name, min);
}

function text(fields: Fields, name: string): string {
  const value = fields[name];
  if (typeof value !== 'string') fail(`${name} is not a string`);
  return value;
}

function textOrNull(fields: Fields, name: string): string | null {
  return fields[name] === null ? null : text(fields, name);
}

function time(fields: Fields, name: string): string {
  const value = text(fields, name);
  if (Number.isNaN(Date.parse(value))) fail(`${name} is not a time`);
  return value;
}

function timeOrNull(fields: Fields, name: string): string | null {
  return fields[name] === null ? null : time(fields, name);
}

function flag(fields: Fields, name: string): boolean {
  const value = fields[name];
  if (typeof value !== 'boolean') fail(`${name} is not true or false`);
  return value;
}

function timeoutKind(fields: Fields): TimeoutKind | null {
  const value = fields.timeout_kind;
  if (value === null || value === 'hard' || value === 'idle') return value;
  return fail('timeout_kind is not hard, idle or null');
}

function markerOf(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || !/^[0-9a-f]{24}$/.test(value)) fail('process_marker is not a tracking id');
  return value;
}

function backgroundOf(value: unknown): BackgroundProcess[] {
  if (!Array.isArray(value) || value.length > 1000) fail('background is not a list of processes');
  return value.map((item: unknown) => {
    if (item === null || typeof item !== 'object') fail('background is not a list of processes');
    const fields: Fields = Object.fromEntries(Object.entries(item));
    return { pid: wholeNumber(fields, 'pid', 1), started: wholeOrNull(fields, 'started', 0), command: text(fields, 'command').slice(0, 200) };
  });
}

/**
 * Checks a record's fields (all but `output`, which the caller reads in its own way) and that it
 * is the record of `session`/`ticket`: a record copied or planted under another name is damaged.
 */
function leftoversEndedOf(value: unknown): LeftoversEnded {
  if (value === null || typeof value !== 'object') fail('background_ended is not a record of ended processes');
  const fields: Fields = Object.fromEntries(Object.entries(value));
  const { why } = fields;
  if (why !== 'cancel' && why !== 'process-limit') fail('background_ended.why is not cancel or process-limit');
  return { count: wholeNumber(fields, 'count', 0), at: time(fields, 'at'), why };
}

function approvalOf(value: unknown): Approval {
  if (value === null || typeof value !== 'object') fail('approval is not a decision');
  const fields: Fields = Object.fromEntries(Object.entries(value));
  const { decision, by } = fields;
  if (decision !== 'approved' && decision !== 'denied') fail('approval.decision is not approved or denied');
  if (by !== 'HASH' && by !== 'link' && by !== 'timeout') fail('approval.by is not HASH, link or timeout');
  return { decision, by, at: time(fields, 'at') };
}

/** A terminal size as records keep it; absent (older records) or null: no terminal. */
function terminalSize(value: unknown): TerminalSize | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object') fail('tty is not a terminal size');
  const { cols, rows } = value as Record<string, unknown>;
  if (!Number.isInteger(cols) || !Number.isInteger(rows) || (cols as number) < 1 || (rows as number) < 1) fail('tty is not a terminal size');
  return { cols: cols as number, rows: rows as number };
}

function screenOf(value: unknown): Screen | null {
  if (value === undefined || value === null) return null;
  const size = terminalSize(value);
  const { cursor, lines } = value as Record<string, unknown>;
  const at = cursor as Record<string, unknown> | null;
  if (size === null || at === null || typeof at !== 'object' || !Number.isInteger(at.row) || !Number.isInteger(at.col)) fail('screen is not a screen');
  if (!Array.isArray(lines) || !lines.every((line) => typeof line === 'string')) fail('screen is not a screen');
  return { ...size, cursor: { row: at.row as number, col: at.col as number }, lines: lines as string[] };
}

export function validateMeta(fields: Fields, session: string, ticket: number): TicketMeta {
  if (fields.ticket !== ticket) fail(`it holds the record of another ticket than ${ticket}`);
  if (fields.session !== session) fail('it holds the record of another session');
  const base = {
    ticket,
    session,
    input: text(fields, 'input'),
    tty: terminalSize(fields.tty),
    timeout: wholeNumber(fields, 'timeout', 1),
    idle_timeout: wholeOrNull(fields, 'idle_timeout', 1),
    nonce: textOrNull(fields, 'nonce'),
    submitted_at: time(fields, 'submitted_at'),
    key: fields.key === undefined ? null : textOrNull(fields, 'key'),
    process_marker: markerOf(fields.process_marker),
    ...(fields.approval === undefined ? {} : { approval: approvalOf(fields.approval) }),
  };
  const status = fields.status;
  if (status === 'queued' || status === 'pending') {
    if (fields.started_at !== null) fail('a queued ticket has a start time');
    return { ...base, status, started_at: null };
  }
  if (status === 'running') {
    return {
      ...base,
      status,
      started_at: time(fields, 'started_at'),
      process_group: wholeNumber(fields, 'process_group', 2),
      process_started: wholeOrNull(fields, 'process_started', 0),
    };
  }
  if (!isFinalStatus(status)) fail('status is not a ticket status');
  return {
    ...base,
    status,
    started_at: timeOrNull(fields, 'started_at'),
    finished_at: time(fields, 'finished_at'),
    duration_ms: wholeOrNull(fields, 'duration_ms', 0),
    exit_code: wholeOrNull(fields, 'exit_code', 0),
    signal: textOrNull(fields, 'signal'),
    timeout_kind: timeoutKind(fields),
    output_bytes: wholeNumber(fields, 'output_bytes', 0),
    truncated: flag(fields, 'truncated'),
    // Both came later: a record written before them reads as "unknown" and "none".
    output_dropped_bytes: fields.output_dropped_bytes === undefined ? null : wholeNumber(fields, 'output_dropped_bytes', 0),
    background: fields.background === undefined ? [] : backgroundOf(fields.background),
    reason: fields.reason === undefined ? null : textOrNull(fields, 'reason'),
    ...(fields.background_ended === undefined ? {} : { background_ended: leftoversEndedOf(fields.background_ended) }),
    screen: screenOf(fields.screen),
    stdin_writes: fields.stdin_writes === undefined ? 0 : wholeNumber(fields, 'stdin_writes', 0),
  };
}
