// Answers of finished tickets, kept ready to send again. A finished ticket with nothing left
// running in the background never changes, so the /callback answer to one exact request (its
// target, and its Authorization header when that is where the credential came from) is the same
// bytes for as long as the token in its ready URLs is reused (TokenCache, a minute). Such a
// request is answered before any parsing: the credential in it was valid when the answer was
// kept, the keys have not changed since (a reload empties the cache), and the entry never
// outlives a token it was asked with. The `cursor` parameter is left out of the key: it only
// makes each poll URL new, a finished ticket's answer holds none, and an agent's every poll
// carries a new one (a valid one only: any other is answered by the full path, with its 400).
// Bounded in count and in bytes, oldest first; an expired answer goes when a newer one comes,
// not only when it is asked for again (2 000 answers of up to 32 KB of output each, kept for
// as long as nothing pushed them out, were most of a soak's heap).

import { CURSOR_CHARS } from '../protocol/endpoints.js';

/** What is sent again: the body, its headers, and the request's log line less its time and duration. */
export interface KeptAnswer {
  readonly body: string;
  /** node:http's flat header list: made once, not per request. */
  readonly headers: string[];
  /** The log line's fields after `"ms":`, known to hold no secret. */
  readonly logTail: string;
  /** The log line's fields from the method to `"ms":`. */
  readonly logHead: string;
}

export function keptAnswer(body: string, contentType: string, logHead: string, logTail: string): KeptAnswer {
  const headers = ['Content-Type', contentType, 'Content-Length', String(Buffer.byteLength(body, 'utf8')), 'Cache-Control', 'no-store'];
  return { body, headers, logHead, logTail };
}

/** A cursor parameter with a value this server could have handed out (links.ts). */
const CURSOR_VALUE = new RegExp(`([?&])cursor=${CURSOR_CHARS}(?=&|$)`);

interface Entry {
  readonly answer: KeptAnswer;
  /** Unix ms after which the entry is gone. */
  readonly until: number;
  /** What it holds, counted as the characters of its key and body. */
  readonly size: number;
}

/** How much the kept answers hold at most, counted as characters of their keys and bodies. */
export const KEPT_ANSWER_BYTES = 8 * 1024 * 1024;

export class AnswerCache {
  private readonly entries = new Map<string, Entry>();
  private held = 0;

  constructor(
    private readonly reuseMs = 60_000,
    private readonly max = 2000,
    private readonly now: () => number = Date.now,
    private readonly maxBytes = KEPT_ANSWER_BYTES,
  ) {}

  /** How many answers are kept, and how much they hold (characters of keys and bodies). */
  get size(): { readonly answers: number; readonly bytes: number } {
    return { answers: this.entries.size, bytes: this.held };
  }

  /**
   * The key of a request: its target with the first cursor's value left out, plus the
   * Authorization header if the credential is there.
   */
  static requestKey(target: string, authorization: string | undefined): string {
    const key = target.replace(CURSOR_VALUE, '$1cursor=');
    return authorization === undefined ? key : `${key}\n${authorization}`;
  }

  get(key: string): KeptAnswer | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (this.now() >= entry.until) {
      this.remove(key, entry);
      return undefined;
    }
    return entry.answer;
  }

  /**
   * Keeps `answer` for a minute (reuseMs), or until `expiresAt` (unix ms) if that is sooner; one
   * larger than the whole budget is not kept. The oldest go first: those expired, then as many as
   * the count and the budget need.
   */
  set(key: string, answer: KeptAnswer, expiresAt = Infinity): void {
    const known = this.entries.get(key);
    if (known !== undefined) this.remove(key, known);
    const size = key.length + answer.body.length;
    if (size > this.maxBytes) return;
    const now = this.now();
    for (const [oldKey, old] of this.entries) {
      const expired = now >= old.until;
      if (!expired && this.entries.size < this.max && this.held + size <= this.maxBytes) break;
      this.remove(oldKey, old);
    }
    this.entries.set(key, { answer, until: Math.min(now + this.reuseMs, expiresAt), size });
    this.held += size;
  }

  clear(): void {
    this.entries.clear();
    this.held = 0;
  }

  private remove(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.held -= entry.size;
  }
}
