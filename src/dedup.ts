// De-duplication of replayed submissions: browsing tools re-fetch and prefetch URLs, so the
// same command (and nonce) in the same session within DEDUP_WINDOW is the same ticket. A
// submission without a session is remembered too, so its replay lands in the session the
// first one created. Entries expire in insertion order, so memory is bounded by the window.
import type { TicketRequest } from './protocol.js';

export interface Replay {
  readonly session: string;
  readonly ticket: number;
  /** Resolves when the first submission's ticket file is on disk. */
  readonly persisted: Promise<void>;
}

interface Entry extends Replay {
  readonly at: number;
}

/** Sessionless submissions get their own key space: no session name can be empty. */
function dedupKey(session: string | undefined, request: TicketRequest): string {
  return JSON.stringify([session ?? '', request.nonce ?? '', request.input]);
}

export class Dedup {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  find(session: string | undefined, request: TicketRequest): Replay | undefined {
    if (this.windowMs <= 0) return undefined;
    this.expire();
    return this.entries.get(dedupKey(session, request));
  }

  /** `asked` is the session the request named (undefined: it asked for a new one). */
  remember(asked: string | undefined, session: string, ticket: number, request: TicketRequest, persisted: Promise<void>): void {
    if (this.windowMs <= 0) return;
    const entry: Entry = { session, ticket, persisted: persisted.catch(() => undefined), at: this.now() };
    this.entries.set(dedupKey(asked, request), entry);
    if (asked === undefined) this.entries.set(dedupKey(session, request), entry);
  }

  /** Forgets a submission whose ticket could not be stored: a retry must run, not replay it. */
  forget(asked: string | undefined, session: string, request: TicketRequest): void {
    this.entries.delete(dedupKey(asked, request));
    if (asked === undefined) this.entries.delete(dedupKey(session, request));
  }

  private expire(): void {
    const oldest = this.now() - this.windowMs;
    for (const [k, entry] of this.entries) {
      if (entry.at > oldest) break;
      this.entries.delete(k);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
