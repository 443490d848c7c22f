// A ticket as it stands now, whatever holds it (the queue, a running command, or its record on
// disk), with the part of its output an answer asked for: what the scheduler answers and the
// views shape.
import type { CollectedOutput } from './outputParts.js';
import type { QueuedBehind, TicketMeta } from './types.js';

export interface TicketState {
  readonly meta: TicketMeta;
  readonly output: CollectedOutput;
  readonly outputBytes: number;
  readonly truncated: boolean;
  /** Bytes written but not stored; null when an older record does not say. */
  readonly outputDropped: number | null;
  /** Processes a finished ticket left in the background that still run. */
  readonly background: Array<{ pid: number; command: string }>;
  /** Said to the agent when the ticket is in a state its status alone does not tell. */
  readonly note?: string;
  /** A running tty=1 ticket: its writes so far, and how long its output has been quiet. */
  readonly terminal?: { readonly stdinWrites: number; readonly quietMs: number };
}

/** Where a waiting ticket stands: its place (1: the first to start) and what holds it. */
export interface QueueStanding {
  readonly position: number;
  readonly behind: QueuedBehind;
}
