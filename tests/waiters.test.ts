// Long-poll waiters and the queue's bookkeeping, with injected timers: no sleeps.
import { describe, expect, it } from 'vitest';
import type { FinishedTicket, QueuedTicket } from '../src/protocol/types.js';
import { TicketQueue } from '../src/scheduling/queue.js';
import { Waiters, type Timers } from '../src/scheduling/waiters.js';

class ManualTimers implements Timers {
  private pending = new Map<number, { at: number; fn: () => void }>();
  private id = 0;
  now = 0;
  setTimeout(fn: () => void, ms: number): unknown {
    this.id += 1;
    this.pending.set(this.id, { at: this.now + ms, fn });
    return this.id;
  }
  clearTimeout(timer: unknown): void {
    this.pending.delete(timer as number);
  }
  advance(ms: number): void {
    this.now += ms;
    for (const [id, timer] of [...this.pending]) {
      if (timer.at <= this.now) {
        this.pending.delete(id);
        timer.fn();
      }
    }
  }
  get count(): number {
    return this.pending.size;
  }
}

const finished = { ticket: 1, session: 's', status: 'done' } as unknown as FinishedTicket;

describe('Waiters', () => {
  it('answers every waiter of a ticket when it finishes, and clears their timers', async () => {
    const timers = new ManualTimers();
    const waiters = new Waiters(timers);
    const a = waiters.wait('s/1', 10_000);
    const b = waiters.wait('s/1', 5_000);
    const other = waiters.wait('s/2', 10_000);
    waiters.wake('s/1', finished);
    expect(await a).toBe(finished);
    expect(await b).toBe(finished);
    expect(timers.count).toBe(1);
    timers.advance(10_000);
    expect(await other).toBeUndefined();
    expect(waiters.count).toBe(0);
  });

  it('gives up after its time, or when the client goes away', async () => {
    const timers = new ManualTimers();
    const waiters = new Waiters(timers);
    const timed = waiters.wait('s/1', 3000);
    timers.advance(2999);
    const controller = new AbortController();
    const aborted = waiters.wait('s/1', 60_000, controller.signal);
    controller.abort();
    expect(await aborted).toBeUndefined();
    timers.advance(1);
    expect(await timed).toBeUndefined();
    expect(waiters.count).toBe(0);
    expect(timers.count).toBe(0);
  });
});

function queued(session: string, ticket: number): QueuedTicket {
  return { ticket, session, input: 'x', timeout: 1, idle_timeout: null, nonce: null, status: 'queued', submitted_at: '', started_at: null };
}

describe('TicketQueue', () => {
  it('starts one ticket per session in order, within MAX_CONCURRENCY, and only once on disk', () => {
    const queue = new TicketQueue(2, 10);
    const entries = [queued('a', 1), queued('a', 2), queued('b', 1), queued('c', 1)].map((record) => queue.add(record, record.input));
    expect(queue.takeStartable(0)).toEqual([]);
    for (const entry of entries) entry.persisted = true;
    expect(queue.takeStartable(0).map((e) => `${e.record.session}/${e.record.ticket}`)).toEqual(['a/1', 'b/1']);
    expect(queue.takeStartable(1).map((e) => `${e.record.session}/${e.record.ticket}`)).toEqual(['c/1']);
    expect(queue.takeStartable(0)).toEqual([]);
    expect(queue.isSessionBusy('a')).toBe(true);
    queue.release('a');
    // First in line, held by the busy slots (b and c run), no longer by its session.
    expect(queue.standing('a', 2)).toEqual({ position: 1, behind: { kind: 'slots', running: 2, max_concurrency: 2, sessions: ['b', 'c'] } });
    // b and c still run: no room under MAX_CONCURRENCY until one of them ends.
    expect(queue.takeStartable(2)).toEqual([]);
    queue.release('b');
    expect(queue.takeStartable(1).map((e) => `${e.record.session}/${e.record.ticket}`)).toEqual(['a/2']);
  });

  it('is full at MAX_QUEUE waiting tickets', () => {
    const queue = new TicketQueue(1, 2);
    queue.add(queued('a', 1), 'x');
    expect(queue.full).toBe(false);
    const second = queue.add(queued('a', 2), 'x');
    expect(queue.full).toBe(true);
    queue.remove(second);
    expect(queue.full).toBe(false);
  });
});
