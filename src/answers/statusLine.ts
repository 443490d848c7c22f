// The status line: `ticket 3 · done · exit 0 · 12 ms`, what every text answer starts with and
// what the live page shows over each ticket. Built here only, from a view's fields, so the
// transcripts, the first lines of /history and /sessions, and the page read alike.
import type { TicketView } from '../protocol/types.js';

export type StatusFields = Pick<TicketView, 'ticket' | 'status' | 'exit_code' | 'signal' | 'timeout_kind' | 'duration_ms'>;

/** The parts of a status line, in order; a field that says nothing is left out. */
export function statusParts(view: StatusFields): string[] {
  const parts = [`ticket ${view.ticket}`, view.status];
  if (view.exit_code !== null) parts.push(`exit ${view.exit_code}`);
  if (view.signal !== null) parts.push(`signal ${view.signal}`);
  if (view.timeout_kind !== undefined) parts.push(`${view.timeout_kind} timeout`);
  if (view.duration_ms !== null) parts.push(`${view.duration_ms} ms`);
  return parts;
}

/** The status line's words, without brackets: `ticket 3 · done · exit 0 · 12 ms`. */
export function statusText(view: StatusFields): string {
  return statusParts(view).join(' · ');
}

/** The status line as a text answer's first line: `[ticket 3 · done · exit 0 · 12 ms]`. */
export function statusLine(view: StatusFields): string {
  return `[${statusText(view)}]`;
}

/**
 * A replay's status line, which says first that nothing ran again and how old the result is:
 * `[replay of ticket 7 · done 43 s ago · exit 0 · 12 ms]`.
 */
export function replayStatusLine(view: StatusFields & { readonly finished_at: string | null }, now: number): string {
  const [, status, ...rest] = statusParts(view);
  const age = view.finished_at === null ? '' : ` ${Math.max(0, Math.round((now - Date.parse(view.finished_at)) / 1000))} s ago`;
  return `[${[`replay of ticket ${view.ticket}`, `${status ?? view.status}${age}`, ...rest].join(' · ')}]`;
}

/** A submission's status line: it has no exit code yet, and says so (and whether it is a replay). */
export function submissionStatusLine(view: { readonly ticket: number; readonly status: string; readonly cached?: boolean }): string {
  return `[${view.cached === true ? 'replay of ' : ''}ticket ${view.ticket} · ${view.status} · exit none yet]`;
}

/** A damaged ticket's status line. */
export function damagedStatusLine(entry: { readonly ticket: number; readonly error: string }): string {
  return `[ticket ${entry.ticket} · damaged: ${entry.error}]`;
}
