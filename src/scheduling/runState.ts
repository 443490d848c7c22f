// What the scheduler holds of a running ticket, and what it answers of one: types only.
import type { CollectedOutput } from '../protocol/outputParts.js';
import type { FinishedTicket, RunningTicket } from '../protocol/types.js';
import type { RunningCommand } from '../running/shellProcess.js';
import type { OutputSpool } from '../storage/spool.js';
import type { OutputWatch } from './outputWatch.js';
import type { TicketTerminal } from './ticketTerminal.js';

/** A running ticket as an answer shows it. */
export interface LiveTicket {
  readonly meta: RunningTicket;
  readonly output: CollectedOutput;
  readonly outputBytes: number;
  readonly truncated: boolean;
  readonly outputDropped: number;
  readonly background: Array<{ pid: number; command: string }>;
  /** Why a ticket whose command ended is still not finished: its end is not on disk yet. */
  readonly storeProblem: string | null;
  /** A tty=1 ticket's writes so far, and how long its output has been quiet. */
  readonly terminal?: { readonly stdinWrites: number; readonly quietMs: number };
}

/** What a request to stop a running ticket found. */
export type StopResult = 'stopped' | 'had-ended' | 'storing';

export interface Run {
  readonly record: RunningTicket;
  readonly spool: OutputSpool;
  readonly command: RunningCommand;
  /** Its output as it comes (since=, and quiet after a write). */
  readonly watch: OutputWatch;
  /** Its terminal, for a tty=1 ticket. */
  readonly terminal: TicketTerminal | undefined;
  /** Resolves after the first attempt to store the final record: true if it is on disk. */
  readonly firstWrite: Promise<boolean>;
  storeProblem: string | null;
  /** The final record being stored: answers show its output (the spool may be given up to make room). */
  ending: FinishedTicket | undefined;
  /** The stored final record, or undefined when storing it was given up (shutdown). */
  readonly finished: Promise<FinishedTicket | undefined>;
}
