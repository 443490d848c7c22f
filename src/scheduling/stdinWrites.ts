// The writes to a tty=1 ticket's terminal, numbered: write n is accepted once. A re-fetched URL
// (the same n and text) is a replay and types nothing; the same n with other text, or an n past
// the next one, is refused with the n expected. Only a keyed digest of each write is kept (in
// memory, for this ticket): never the text, which may be a password.
import crypto from 'node:crypto';

export type WriteDecision = { readonly kind: 'accept' } | { readonly kind: 'replay' } | { readonly kind: 'conflict'; readonly expected: number; readonly reason: 'other-text' | 'gap' };

export class StdinWrites {
  private readonly digests: string[] = [];
  private readonly key = crypto.randomBytes(32);

  get count(): number {
    return this.digests.length;
  }

  private digest(text: Buffer, eof: boolean): string {
    return crypto.createHmac('sha256', this.key).update(text).update(eof ? '\u0001eof' : '\u0000').digest('hex');
  }

  /** What to do with write `n`; an accepted one is counted. */
  decide(n: number, text: Buffer, eof: boolean): WriteDecision {
    const expected = this.digests.length + 1;
    const digest = this.digest(text, eof);
    if (n < expected) return this.digests[n - 1] === digest ? { kind: 'replay' } : { kind: 'conflict', expected, reason: 'other-text' };
    if (n > expected) return { kind: 'conflict', expected, reason: 'gap' };
    this.digests.push(digest);
    return { kind: 'accept' };
  }
}
