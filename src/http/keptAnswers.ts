// Answers of finished tickets, kept ready to send again. A finished ticket with nothing left
// running in the background never changes, so the /callback answer to one exact request (its
// target, and its Authorization header when that is where the credential came from) is the same
// bytes for as long as the token in its ready URLs is reused (TokenCache, a minute). Such a
// request is answered before any parsing: the credential in it was valid when the answer was
// kept, the keys have not changed since (a reload empties the cache), and the entry never
// outlives a token it was asked with. The `cursor` parameter is left out of the key: it only
// makes each poll URL new, a finished ticket's answer holds none, and an agent's every poll
// carries a new one (a valid one only: any other is answered by the full path, with its 400).
// Bounded, oldest first.

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
}

export class AnswerCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly reuseMs = 60_000,
    private readonly max = 2000,
    private readonly now: () => number = Date.now,
  ) {}

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
      this.entries.delete(key);
      return undefined;
    }
    return entry.answer;
  }

  /** Keeps `answer` for a minute (reuseMs), or until `expiresAt` (unix ms) if that is sooner. */
  set(key: string, answer: KeptAnswer, expiresAt = Infinity): void {
    this.entries.delete(key);
    this.entries.set(key, { answer, until: Math.min(this.now() + this.reuseMs, expiresAt) });
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}
