// What a submission comes to: a new ticket, or a replay of an earlier identical one; what a
// cancel did; what a write to a terminal did. The scheduler's answers to its callers, as types.
import type { QueuedTicket } from '../protocol/types.js';
import type { Waiting } from './queue.js';
import type { Replay } from './replays.js';

/** Who submits: the key (HASH for the operator's), and the user its new sessions' commands run as. */
export interface Asker {
  readonly key: string;
  /** HASH (its key or a token it made): acts on every session. */
  readonly operator: boolean;
  readonly user: string | null;
  /** Its commands wait for a person's approval (approve=always). */
  readonly approve: boolean;
}

/** A /shell into a session another key made (or made meanwhile): the name is taken. */
export class SessionTaken extends Error {
  constructor(readonly session: string) {
    super(`the session name ${session} is taken`);
  }
}

export interface SubmitResult {
  readonly session: string;
  readonly ticket: number;
  /** Set when this was a replay of an earlier identical submission: when that one was made. */
  readonly replayOf?: { readonly submittedAt: number };
}

/**
 * What cancel did: ended the ticket, found it already ended (and ended what it left running:
 * how many), or found its end still being stored.
 */
export type CancelResult = 'canceled' | 'storing' | { readonly kind: 'already-ended'; readonly backgroundEnded: number };

/** What the numbering critical section decided: a replay, or a ticket whose record is being written. */
export type Admission =
  | { readonly kind: 'replay'; readonly replay: Replay }
  | { readonly kind: 'admitted'; readonly entry: Waiting; readonly record: QueuedTicket; readonly persisted: Promise<void>; readonly shellReady: boolean };

/** A replay's answer, once the first submission's record is on disk. */
export async function replayed(replay: Replay): Promise<SubmitResult> {
  await replay.persisted;
  return { session: replay.session, ticket: replay.ticket, replayOf: replay };
}

/** What a write to a ticket's terminal did. */
export type StdinResult =
  | { readonly kind: 'written' | 'replay'; readonly offset: number }
  | { readonly kind: 'conflict'; readonly expected: number; readonly reason: 'other-text' | 'gap' }
  | { readonly kind: 'no-terminal' }
  | { readonly kind: 'not-running' };
