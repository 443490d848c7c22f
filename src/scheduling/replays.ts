// Replays: browsing tools re-fetch and prefetch URLs, so a submission identical to the one
// before it is answered with that ticket instead of running again. Only when it cannot lie:
// the same session (or both sessionless), the same parameters, the *latest* submission of that
// session (nothing was submitted there since), and a ticket still unfinished or finished less
// than DEDUP_WINDOW ago. Memory holds one entry per session, and finished ones expire.

export interface Replay {
  readonly session: string;
  readonly ticket: number;
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
  /** The latest submission that named no session (its ticket is in the session it created). */
  private sessionless: Entry | undefined;
  private remembered = 0;

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  find(session: string | undefined, identity: string): Replay | undefined {
    if (this.windowMs <= 0) return undefined;
    const entry = session === undefined ? this.sessionless : this.latest.get(session);
    if (entry === undefined || entry.identity !== identity) return undefined;
    // A sessionless replay is a replay only while nothing else was submitted to its session.
    if (this.latest.get(entry.session) !== entry) return undefined;
    if (entry.finishedAt !== null && this.now() - entry.finishedAt >= this.windowMs) return undefined;
    return entry;
  }

  /** `asked` is the session the request named (undefined: it asked for a new one). */
  remember(asked: string | undefined, session: string, ticket: number, identity: string, persisted: Promise<void>): void {
    if (this.windowMs <= 0) return;
    const entry: Entry = { session, ticket, identity, submittedAt: this.now(), persisted: persisted.catch(() => undefined), finishedAt: null };
    this.latest.set(session, entry);
    if (asked === undefined) this.sessionless = entry;
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
    if (this.sessionless?.session === session && this.sessionless.ticket === ticket) this.sessionless = undefined;
  }

  private sweep(): void {
    const oldest = this.now() - this.windowMs;
    for (const [session, entry] of this.latest) {
      if (entry.finishedAt !== null && entry.finishedAt <= oldest) this.latest.delete(session);
    }
  }

  get size(): number {
    return this.latest.size;
  }
}
