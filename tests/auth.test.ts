// The lock-out table, with an injected clock: a locked client stays locked however many other
// clients fail, and the table stays bounded by forgetting unlocked clients first.
import { describe, expect, it } from 'vitest';
import { Auth } from '../src/auth.js';
import { HttpError } from '../src/http.js';

const HASH = 'h'.repeat(40);

function statusOf(fn: () => void): number {
  try {
    fn();
    return 200;
  } catch (error) {
    if (error instanceof HttpError) return error.status;
    throw error;
  }
}

describe('Auth lock-out', () => {
  it('keeps a locked client locked for its window while thousands of others fail, and stays bounded', () => {
    let now = 1_000_000;
    const auth = new Auth({ hash: HASH, maxFailures: 3, window: 60, now: () => now, maxTracked: 1000 });
    for (let i = 0; i < 3; i += 1) expect(statusOf(() => auth.check('victim', 'wrong'))).toBe(401);
    expect(statusOf(() => auth.check('victim', HASH))).toBe(429);
    for (let i = 0; i < 5000; i += 1) {
      now += 1;
      expect(statusOf(() => auth.check(`other-${i}`, 'wrong'))).toBe(401);
    }
    expect(auth.trackedClients).toBeLessThanOrEqual(1000);
    expect(statusOf(() => auth.check('victim', HASH))).toBe(429);
    now += 60_000;
    expect(statusOf(() => auth.check('victim', HASH))).toBe(200);
  });

  it('when every remembered client is locked, drops the lock that ends first', () => {
    let now = 0;
    const auth = new Auth({ hash: HASH, maxFailures: 1, window: 60, now: () => now, maxTracked: 3 });
    for (const client of ['a', 'b', 'c', 'd']) {
      now += 1000;
      statusOf(() => auth.check(client, 'wrong'));
    }
    expect(auth.trackedClients).toBe(3);
    expect(statusOf(() => auth.check('a', HASH))).toBe(200);
    for (const client of ['b', 'c', 'd']) expect(statusOf(() => auth.check(client, HASH))).toBe(429);
  });
});
