// The queue and its limits: tickets waiting to start (queued, or pending a person's approval),
// in the order their numbers were handed out; one running ticket per session; at most MAX_CONCURRENCY running; at most MAX_QUEUE
// waiting. Pure bookkeeping: it starts nothing itself.
import type { QueuedBehind, QueuedTicket } from '../protocol/types.js';
import type { QueueStanding } from '../protocol/ticketState.js';

export interface Waiting {
  /** Replaced when a person approves a pending ticket (it is then queued). */
  record: QueuedTicket;
  /** The command as sent: the record's `input` has the secret redacted, the shell gets this. */
  readonly command: string;
  /** False until `<n>.ticket` is on disk; the ticket may not start before. */
  persisted: boolean;
}

export class TicketQueue {
  private waiting: Waiting[] = [];
  /** Sessions with a ticket started, and that ticket's number. */
  private readonly busy = new Map<string, number>();

  constructor(
    private readonly maxConcurrency: number,
    private readonly maxQueue: number,
  ) {}

  get length(): number {
    return this.waiting.length;
  }

  get full(): boolean {
    return this.waiting.length >= this.maxQueue;
  }

  add(record: QueuedTicket, command: string): Waiting {
    const entry: Waiting = { record, command, persisted: false };
    this.waiting.push(entry);
    return entry;
  }

  remove(entry: Waiting): void {
    this.waiting = this.waiting.filter((other) => other !== entry);
  }

  find(session: string, ticket: number): Waiting | undefined {
    return this.waiting.find((entry) => entry.record.session === session && entry.record.ticket === ticket);
  }

  /**
   * Where a waiting ticket stands: its place in the queue (1: the first to start when room
   * comes) and what holds it: its session's earlier ticket (running, or waiting before it), or
   * every MAX_CONCURRENCY slot being busy. Undefined when it is not waiting.
   */
  standing(session: string, ticket: number): QueueStanding | undefined {
    const index = this.waiting.findIndex((entry) => entry.record.session === session && entry.record.ticket === ticket);
    if (index === -1) return undefined;
    const earlier = this.busy.get(session) ?? this.waiting.slice(0, index).find((entry) => entry.record.session === session)?.record.ticket;
    const behind: QueuedBehind =
      earlier !== undefined
        ? { kind: 'session', ticket: earlier }
        : { kind: 'slots', running: this.busy.size, max_concurrency: this.maxConcurrency, sessions: [...this.busy.keys()] };
    return { position: index + 1, behind };
  }

  /** The session's first waiting ticket: the next to start in it. */
  firstOf(session: string): Waiting | undefined {
    return this.waiting.find((entry) => entry.record.session === session);
  }

  all(): readonly Waiting[] {
    return [...this.waiting];
  }

  isSessionBusy(session: string): boolean {
    return this.busy.has(session) || this.waiting.some((entry) => entry.record.session === session);
  }

  /**
   * Takes the tickets that may start now, oldest first: none of a session whose earlier ticket
   * runs or is not yet on disk, and no more than the room left under MAX_CONCURRENCY. A `held`
   * ticket (its shell is still being started) waits, with its session's later ones, keeping its
   * slot for when its shell is there. Their sessions count as busy until release().
   */
  takeStartable(running: number, held: (entry: Waiting) => boolean = () => false): Waiting[] {
    const started: Waiting[] = [];
    const blocked = new Set(this.busy.keys());
    let room = this.maxConcurrency - running;
    for (let i = 0; i < this.waiting.length && room > 0; ) {
      const entry = this.waiting[i];
      if (entry === undefined) break;
      const session = entry.record.session;
      // A pending ticket holds its session's later ones behind it, and takes no slot.
      if (blocked.has(session) || !entry.persisted || entry.record.status === 'pending') {
        blocked.add(session);
        i += 1;
        continue;
      }
      // A held one takes the slot it will start in, once its shell is there.
      if (held(entry)) {
        room -= 1;
        blocked.add(session);
        i += 1;
        continue;
      }
      this.waiting.splice(i, 1);
      blocked.add(session);
      this.busy.set(session, entry.record.ticket);
      started.push(entry);
      room -= 1;
    }
    return started;
  }

  /** The session's running ticket has finished: its next one may start. */
  release(session: string): void {
    this.busy.delete(session);
  }
}
