// The lock-out table, with an injected clock: a locked client stays locked however many other
// clients fail, and the table stays bounded by forgetting unlocked clients first.
import { describe, expect, it } from 'vitest';
import { LockOut } from '../src/auth/lockout.js';
import { statusOf } from './helpers/status.js';


describe('LockOut', () => {
  it('keeps a locked client locked for its window while thousands of others fail, and stays bounded', () => {
    let now = 1_000_000;
    const lockOut = new LockOut({ maxFailures: 3, window: 60, now: () => now, maxTracked: 1000 });
    for (let i = 0; i < 3; i += 1) {
      expect(statusOf(() => lockOut.assertOpen('victim'))).toBe(200);
      lockOut.recordFailure('victim');
    }
    expect(statusOf(() => lockOut.assertOpen('victim'))).toBe(429);
    for (let i = 0; i < 5000; i += 1) {
      now += 1;
      lockOut.recordFailure(`other-${i}`);
    }
    expect(lockOut.trackedClients).toBeLessThanOrEqual(1000);
    expect(statusOf(() => lockOut.assertOpen('victim'))).toBe(429);
    now += 60_000;
    expect(statusOf(() => lockOut.assertOpen('victim'))).toBe(200);
  });

  it('when every remembered client is locked, drops the lock that ends first', () => {
    let now = 0;
    const lockOut = new LockOut({ maxFailures: 1, window: 60, now: () => now, maxTracked: 3 });
    for (const client of ['a', 'b', 'c', 'd']) {
      now += 1000;
      lockOut.recordFailure(client);
    }
    expect(lockOut.trackedClients).toBe(3);
    expect(statusOf(() => lockOut.assertOpen('a'))).toBe(200);
    for (const client of ['b', 'c', 'd']) expect(statusOf(() => lockOut.assertOpen(client))).toBe(429);
  });
});
