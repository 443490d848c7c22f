// Replays: browsing tools re-fetch and prefetch URLs, so a submission identical to the one
// before it is answered with that ticket instead of running again. Only when it cannot lie:
// the same key, the same session (or both sessionless: each key has its own sessionless slot),
// the same parameters, the *latest* submission of that session (nothing was submitted there
// since), and a ticket still unfinished or finished less than DEDUP_WINDOW ago (10 s by
// default: a fetch tool re-fetches within seconds, while an agent that asks the same again
// after thinking wants a new answer). Memory holds one entry per session and per key's
// sessionless slot, and finished ones expire.

export interface Replay {
  readonly session: string;
  readonly ticket: number;
  /** The key that submitted it: only the same key's repeat is its replay. */
  readonly key: string;
  /** Date.now() when the first submission was made. */
  readonly submittedAt: number;
  /** Resolves when the first submission's ticket file is on disk. */
  readonly persisted: Promise<void>;
}

interface Entry extends Replay {
  /** The submission's identity (the edge makes it from its parameters, credentials left out): what "identical" compares. */
  readonly identity: string;
  finishedAt: number | null;
}

const SWEEP_EVERY = 256;

export class Dedup {
  /** The latest submission of each session. */
  private readonly latest = new Map<string, Entry>();
  /** Per key, its latest submission that named no session (its ticket is in the session it created). */
  private readonly sessionless = new Map<string, Entry>();
  private remembered = 0;

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  find(session: string | undefined, identity: string, key: string): Replay | undefined {
    if (this.windowMs <= 0) return undefined;
    const entry = session === undefined ? this.sessionless.get(key) : this.latest.get(session);
    if (entry === undefined || entry.identity !== identity || entry.key !== key) return undefined;
    // A sessionless replay is a replay only while nothing else was submitted to its session.
    if (this.latest.get(entry.session) !== entry) return undefined;
    if (entry.finishedAt !== null && this.now() - entry.finishedAt >= this.windowMs) return undefined;
    return entry;
  }

  /** `asked` is the session the request named (undefined: it asked for a new one). */
  remember(asked: string | undefined, session: string, ticket: number, identity: string, persisted: Promise<void>, key: string): void {
    if (this.windowMs <= 0) return;
    const entry: Entry = { session, ticket, key, identity, submittedAt: this.now(), persisted: persisted.catch(() => undefined), finishedAt: null };
    this.latest.set(session, entry);
    if (asked === undefined) this.sessionless.set(key, entry);
    this.remembered += 1;
    if (this.remembered % SWEEP_EVERY === 0) this.sweep();
  }

  /** The ticket finished: a replay of it is possible for DEDUP_WINDOW from now. */
  finished(session: string, ticket: number): void {
    const entry = this.latest.get(session);
    if (entry?.ticket === ticket) entry.finishedAt = this.now();
  }

  /** Forgets a submission whose ticket could not be stored: a retry must run, not replay it. */
  forget(session: string, ticket: number): void {
    if (this.latest.get(session)?.ticket === ticket) this.latest.delete(session);
    for (const [key, entry] of this.sessionless) if (entry.session === session && entry.ticket === ticket) this.sessionless.delete(key);
  }

  private sweep(): void {
    const oldest = this.now() - this.windowMs;
    for (const [session, entry] of this.latest) {
      if (entry.finishedAt !== null && entry.finishedAt <= oldest) this.latest.delete(session);
    }
    // A sessionless slot whose session has had a later submission can never replay again.
    for (const [key, entry] of this.sessionless) if (this.latest.get(entry.session) !== entry) this.sessionless.delete(key);
  }

  get size(): number {
    return this.latest.size;
  }
}
