// The hash check and the lock-out. The hash comes as `hash=` or `Authorization: Bearer`; it is
// compared as SHA-256 digests with timingSafeEqual, so neither its content nor its length leaks
// through timing. Too many wrong hashes from one client lock that client out for a window.
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError, type Query } from './http.js';

/**
 * Clients with failures remembered at most. Beyond it clients that are not locked are forgotten
 * first, oldest first, so a flood of failures from other addresses never frees a locked one.
 * Only when every entry is locked (an attack from more addresses than this) does the lock that
 * ends soonest go, so memory stays bounded whatever happens.
 */
export const MAX_TRACKED_CLIENTS = 10_000;

function digest(value: string): Buffer {
  return crypto.createHash('sha256').update(value, 'utf8').digest();
}

/** The hash a request presents, from the query or the Authorization header. */
export function presentedHash(req: IncomingMessage, q: Query): string | undefined {
  const fromQuery = q.get('hash');
  if (fromQuery !== undefined && fromQuery !== '') return fromQuery;
  const header = req.headers.authorization;
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * The socket address, or the last X-Forwarded-For entry (the one our proxy added) when the
 * request came from a trusted proxy: over the unix SOCKET, or from an address in TRUST_PROXY.
 */
export function clientAddress(req: IncomingMessage, trustProxy: readonly string[], onSocket: boolean): string {
  const peer = req.socket.remoteAddress;
  if (onSocket || (peer !== undefined && trustProxy.includes(peer))) {
    const header = req.headers['x-forwarded-for'];
    const value = Array.isArray(header) ? header.join(',') : header;
    const last = value?.split(',').map((part) => part.trim()).filter(Boolean).at(-1);
    if (last !== undefined) return last.slice(0, 100);
  }
  return peer ?? (onSocket ? 'unix-socket' : 'unknown');
}

interface FailureWindow {
  startedAt: number;
  failures: number;
  lockedUntil: number;
}

export interface AuthOptions {
  readonly hash: string;
  readonly maxFailures: number;
  /** Seconds. */
  readonly window: number;
  readonly now?: () => number;
  /** For tests: the table's bound (default MAX_TRACKED_CLIENTS). */
  readonly maxTracked?: number;
}

export class Auth {
  private readonly expected: Buffer;
  private readonly clients = new Map<string, FailureWindow>();
  private readonly now: () => number;
  private readonly maxTracked: number;

  constructor(private readonly options: AuthOptions) {
    this.expected = digest(options.hash);
    this.now = options.now ?? Date.now;
    this.maxTracked = options.maxTracked ?? MAX_TRACKED_CLIENTS;
  }

  matches(candidate: string): boolean {
    return crypto.timingSafeEqual(digest(candidate), this.expected);
  }

  /** Throws 429 for a locked-out client, 401 for a missing or wrong hash. */
  check(client: string, presented: string | undefined): void {
    const now = this.now();
    const entry = this.current(client, now);
    if (entry !== undefined && entry.lockedUntil > now) {
      const seconds = Math.max(1, Math.ceil((entry.lockedUntil - now) / 1000));
      throw new HttpError(429, 'too many wrong hashes from this address', `wait ${seconds} s before trying again, with the right hash`, {
        'Retry-After': String(seconds),
      });
    }
    if (presented === undefined) {
      throw new HttpError(401, 'the hash is missing', 'add &hash=<HASH> to the URL, or send the header Authorization: Bearer <HASH>');
    }
    if (this.matches(presented)) return;
    this.recordFailure(client, entry, now);
    throw new HttpError(401, 'the hash is wrong', 'use the hash from the URL the operator gave you (the hash= part of the /context link)');
  }

  private current(client: string, now: number): FailureWindow | undefined {
    const entry = this.clients.get(client);
    if (entry === undefined) return undefined;
    const windowMs = this.options.window * 1000;
    if (entry.lockedUntil <= now && now - entry.startedAt >= windowMs) {
      this.clients.delete(client);
      return undefined;
    }
    return entry;
  }

  private recordFailure(client: string, entry: FailureWindow | undefined, now: number): void {
    const windowMs = this.options.window * 1000;
    const next = entry ?? { startedAt: now, failures: 0, lockedUntil: 0 };
    next.failures += 1;
    // The lock lasts a whole window from the failure that crossed the limit.
    if (next.failures >= this.options.maxFailures) next.lockedUntil = now + windowMs;
    this.clients.delete(client);
    this.clients.set(client, next); // re-insert: Map order is then oldest activity first
    this.evict(now);
  }

  private evict(now: number): void {
    if (this.clients.size <= this.maxTracked) return;
    for (const [client, entry] of this.clients) {
      if (entry.lockedUntil <= now) {
        this.clients.delete(client);
        if (this.clients.size <= this.maxTracked) return;
      }
    }
    // Every entry is locked: the one whose lock ends first goes.
    let soonest: string | undefined;
    let soonestEnd = Infinity;
    for (const [client, entry] of this.clients) {
      if (entry.lockedUntil < soonestEnd) {
        soonest = client;
        soonestEnd = entry.lockedUntil;
      }
    }
    if (soonest !== undefined) this.clients.delete(soonest);
  }

  /** For tests and diagnostics: how many clients are remembered. */
  get trackedClients(): number {
    return this.clients.size;
  }
}
