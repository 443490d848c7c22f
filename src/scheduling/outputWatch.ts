// Watching a running ticket's output as it comes: how much there is and when the last of it
// came, and waiting for more (/callback's since=) or for quiet (/stdin's answer, held until the
// program has stopped printing). A sink in front of the ticket's own.
import type { OutputSink } from '../running/outputPipes.js';

export class OutputWatch implements OutputSink {
  /** Bytes seen so far. */
  total = 0;
  /** When the last output came (Date.now()); the start until then. */
  lastAt = Date.now();
  private ended = false;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly inner: OutputSink) {}

  append(chunk: Buffer): void {
    this.total += chunk.length;
    this.lastAt = Date.now();
    this.inner.append(chunk);
    for (const listener of [...this.listeners]) listener();
  }

  endInput(): void {
    this.ended = true;
    this.inner.endInput();
    for (const listener of [...this.listeners]) listener();
  }

  /** Resolves once `done()` holds after some output (checked now and at each output), the output ends, or `ms` passes. */
  private until(done: () => boolean, ms: number, signal: AbortSignal | undefined, recheckMs?: () => number | undefined): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let recheck: NodeJS.Timeout | undefined;
      const finish = (): void => {
        clearTimeout(timer);
        clearTimeout(recheck);
        this.listeners.delete(check);
        signal?.removeEventListener('abort', finish);
        resolve();
      };
      const check = (): void => {
        if (this.ended || done()) {
          finish();
          return;
        }
        const again = recheckMs?.();
        if (again !== undefined) {
          clearTimeout(recheck);
          recheck = setTimeout(check, again);
        }
      };
      timer = setTimeout(finish, ms);
      signal?.addEventListener('abort', finish, { once: true });
      this.listeners.add(check);
      check();
    });
  }

  /** Waits until more than `bytes` were seen (since=). */
  beyond(bytes: number, ms: number, signal?: AbortSignal): Promise<void> {
    return this.until(() => this.total > bytes, ms, signal);
  }

  /** Waits until nothing came for `quietMs` since `from` (a write: the quiet before it does not count). */
  quiet(quietMs: number, ms: number, signal?: AbortSignal, from = Date.now()): Promise<void> {
    const silentFor = (): number => Date.now() - Math.max(this.lastAt, from);
    return this.until(() => silentFor() >= quietMs, ms, signal, () => Math.max(1, quietMs - silentFor()));
  }
}
