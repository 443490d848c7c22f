// Tokens: what ready URLs carry instead of a key. `<access>.<session>.<key>.<expiry>.<mac>`:
// access `x` (exec: everything in that session), `r` (read: /callback, /history, /view) or
// `a<ticket>` (approve: /approve and /deny of that one ticket, the approval links),
// one session, the name of the key that minted it, an expiry (seconds, base 36), and an HMAC
// over all of them and that key's current secret, with a secret derived from HASH. Stateless:
// they survive restarts; removing or changing the key voids them; a new HASH voids them all.
import crypto from 'node:crypto';

/** exec and read open a session; approve opens /approve and /deny of one ticket (its approval links). */
export type Access = 'exec' | 'read' | 'approve';

export interface Token {
  readonly access: Access;
  readonly session: string;
  readonly key: string;
  /** Unix seconds. */
  readonly expires: number;
  /** The one ticket an approval token decides. */
  readonly ticket?: number;
}

export const TOKEN_SHAPE = /^(?:[xr]|a[1-9][0-9]{0,14})\.[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.[A-Za-z0-9_-]{1,64}\.[0-9a-z]{1,10}\.[A-Za-z0-9_-]{22}$/;
/** The same shape, found inside other text (for redaction). */
export const TOKEN_IN_TEXT = /\b(?:[xr]|a[1-9][0-9]{0,14})\.[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.[A-Za-z0-9_-]{1,64}\.[0-9a-z]{1,10}\.[A-Za-z0-9_-]{22}/g;

export type Verified = { ok: true; token: Token } | { ok: false; problem: 'malformed' | 'forged' | 'expired' | 'revoked' };

/**
 * Tokens already minted, reused for a while (a minute, or a tenth of TOKEN_TTL if that is
 * shorter): minting is an HMAC, and every answer carries one. A token handed out a minute after
 * it was minted expires a minute sooner; nothing else changes,
 * since tokens are checked when they are used. Emptied when the keys change. Bounded.
 */
export class TokenCache {
  private readonly tokens = new Map<string, { token: string; at: number }>();

  constructor(
    private readonly signer: TokenSigner,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
    private readonly reuseMs = 60_000,
    private readonly max = 10_000,
  ) {}

  get(key: string, session: string, access: Access): string {
    const id = `${access}/${key}/${session}`;
    const now = this.now();
    const known = this.tokens.get(id);
    if (known !== undefined && now - known.at < this.reuseMs) return known.token;
    const token = this.signer.mint(key, session, access, this.ttlSeconds);
    this.tokens.delete(id);
    this.tokens.set(id, { token, at: now });
    if (this.tokens.size > this.max) {
      const oldest = this.tokens.keys().next().value;
      if (oldest !== undefined) this.tokens.delete(oldest);
    }
    return token;
  }

  clear(): void {
    this.tokens.clear();
  }
}

export class TokenSigner {
  private readonly secret: Buffer;

  constructor(
    hash: string,
    /** The current secret of a key by name; undefined once it is gone. */
    private readonly keySecret: (name: string) => string | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.secret = crypto.createHash('sha256').update(`llmass-tokens\0${hash}`, 'utf8').digest();
  }

  private mac(body: string, keySecret: string): string {
    return crypto.createHmac('sha256', this.secret).update(`${body}\0${keySecret}`, 'utf8').digest().subarray(0, 16).toString('base64url');
  }

  mint(key: string, session: string, access: Access, ttlSeconds: number, ticket?: number): string {
    const keySecret = this.keySecret(key);
    if (keySecret === undefined) throw new Error(`no key ${key} to mint a token with`);
    // Rounded up: a token is good for at least its TTL, never for less because of where in a
    // second it was minted.
    const expires = Math.ceil(this.now() / 1000) + ttlSeconds;
    const kind = access === 'exec' ? 'x' : access === 'read' ? 'r' : `a${ticket ?? 0}`;
    const body = `${kind}.${session}.${key}.${expires.toString(36)}`;
    return `${body}.${this.mac(body, keySecret)}`;
  }

  verify(value: string): Verified {
    if (!TOKEN_SHAPE.test(value)) return { ok: false, problem: 'malformed' };
    const cut = value.lastIndexOf('.');
    const body = value.slice(0, cut);
    const [access, session = '', key = '', expiry = ''] = body.split('.');
    const keySecret = this.keySecret(key);
    // Compared in constant time; a token of a removed key checks against a stand-in and fails.
    const expected = Buffer.from(this.mac(body, keySecret ?? 'no such key'));
    const given = Buffer.from(value.slice(cut + 1));
    const matches = expected.length === given.length && crypto.timingSafeEqual(expected, given);
    if (keySecret === undefined) return { ok: false, problem: 'revoked' };
    if (!matches) return { ok: false, problem: 'forged' };
    const expires = parseInt(expiry, 36);
    if (expires * 1000 <= this.now()) return { ok: false, problem: 'expired' };
    if (access?.startsWith('a') === true) return { ok: true, token: { access: 'approve', session, key, expires, ticket: Number(access.slice(1)) } };
    return { ok: true, token: { access: access === 'x' ? 'exec' : 'read', session, key, expires } };
  }
}
