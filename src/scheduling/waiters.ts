// Long-poll waiters: requests holding their answer until a ticket finishes, a time passes, or
// the client goes away. Timers are injected so that a test can drive them without sleeping.
import type { FinishedTicket } from '../protocol/types.js';

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

export class Waiters {
  private readonly waiting = new Map<string, Set<(record: FinishedTicket) => void>>();

  constructor(private readonly timers: Timers = realTimers) {}

  /** Resolves with the finished record, or undefined after `ms` or when `signal` aborts. */
  wait(key: string, ms: number, signal?: AbortSignal): Promise<FinishedTicket | undefined> {
    if (ms <= 0 || signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const set = this.waiting.get(key) ?? new Set();
      this.waiting.set(key, set);
      const done = (record: FinishedTicket | undefined): void => {
        this.timers.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        set.delete(wake);
        if (set.size === 0 && this.waiting.get(key) === set) this.waiting.delete(key);
        resolve(record);
      };
      const wake = (record: FinishedTicket): void => done(record);
      const onAbort = (): void => done(undefined);
      const timer = this.timers.setTimeout(() => done(undefined), ms);
      set.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Answers everyone waiting for this ticket. */
  wake(key: string, record: FinishedTicket): void {
    const set = this.waiting.get(key);
    if (set === undefined) return;
    for (const wake of [...set]) wake(record);
  }

  get count(): number {
    let n = 0;
    for (const set of this.waiting.values()) n += set.size;
    return n;
  }
}

/** Requests waiting for a session to have nothing running or queued (file transfers). */
export class IdleWaiters {
  private readonly waiting = new Map<string, Set<(idle: boolean) => void>>();

  wait(session: string, ms: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const set = this.waiting.get(session) ?? new Set<(idle: boolean) => void>();
      this.waiting.set(session, set);
      const done = (idle: boolean): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', aborted);
        set.delete(done);
        if (set.size === 0 && this.waiting.get(session) === set) this.waiting.delete(session);
        resolve(idle);
      };
      const aborted = (): void => done(false);
      const timer = setTimeout(() => done(false), ms);
      signal?.addEventListener('abort', aborted, { once: true });
      set.add(done);
    });
  }

  /** The session's ticket ended: those waiting are answered if nothing else runs or waits there. */
  notify(session: string, stillBusy: boolean): void {
    if (stillBusy) return;
    for (const done of [...(this.waiting.get(session) ?? [])]) done(true);
  }
}
