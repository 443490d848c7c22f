// The lock-out: too many failed credentials from one client within AUTH_WINDOW lock that
// client out for a window. A locked client stays locked however many other clients fail; the
// table stays bounded by forgetting unlocked clients first.
import { AuthRefused } from './refusals.js';

/**
 * Clients with failures remembered at most. Beyond it clients that are not locked are forgotten
 * first, oldest first, so a flood of failures from other addresses never frees a locked one.
 * Only when every entry is locked (an attack from more addresses than this) does the lock that
 * ends soonest go, so memory stays bounded whatever happens.
 */
export const MAX_TRACKED_CLIENTS = 10_000;

interface FailureWindow {
  startedAt: number;
  failures: number;
  lockedUntil: number;
}

export interface LockOutOptions {
  readonly maxFailures: number;
  /** Seconds. */
  readonly window: number;
  readonly now?: () => number;
  /** Told of each failure, and whether it locked the client out (metrics). */
  readonly onFailure?: (lockedOut: boolean) => void;
  /** For tests: the table's bound (default MAX_TRACKED_CLIENTS). */
  readonly maxTracked?: number;
}

export class LockOut {
  private readonly clients = new Map<string, FailureWindow>();
  private readonly now: () => number;
  private readonly maxTracked: number;

  constructor(private readonly options: LockOutOptions) {
    this.now = options.now ?? Date.now;
    this.maxTracked = options.maxTracked ?? MAX_TRACKED_CLIENTS;
  }

  isLocked(client: string): boolean {
    return this.clients.size > 0 && this.lockedFor(client) > 0;
  }

  /** Refuses (AuthRefused, locked) `client` while it is locked out, saying for how long. */
  assertOpen(client: string): void {
    const lockedMs = this.lockedFor(client);
    if (lockedMs > 0) {
      const seconds = Math.max(1, Math.ceil(lockedMs / 1000));
      throw new AuthRefused('locked', 'too many wrong keys or tokens from this address', `wait ${seconds} s before trying again, with the right key`, seconds);
    }
  }

  /** Milliseconds `client` stays locked out; 0 when it is not. */
  private lockedFor(client: string): number {
    const now = this.now();
    const entry = this.current(client, now);
    return entry === undefined ? 0 : Math.max(0, entry.lockedUntil - now);
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

  recordFailure(client: string): void {
    const now = this.now();
    const windowMs = this.options.window * 1000;
    const next = this.current(client, now) ?? { startedAt: now, failures: 0, lockedUntil: 0 };
    next.failures += 1;
    // The lock lasts a whole window from the failure that crossed the limit.
    if (next.failures >= this.options.maxFailures) next.lockedUntil = now + windowMs;
    this.options.onFailure?.(next.failures === this.options.maxFailures);
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
