// Output capture: a command's stdout and stderr pipes feed its spool, in arrival order, and
// the time of the last output is kept for the idle limit. When the shell exits, what is left
// in the pipes is read for a short while, then the pipes are closed.
import type { ChildProcess } from 'node:child_process';
import type { OutputSpool } from './output.js';

/**
 * After the shell exits, how long we keep reading output its background children may still
 * hold the pipe open for. The ticket finishes then: `sleep 100 &` must not hold it open.
 */
const DRAIN_AFTER_EXIT_MS = 150;

export interface Capture {
  /** Date.now() of the last chunk of output (or of the start). */
  lastOutputAt(): number;
  /** Reads what is left in the pipes (up to DRAIN_AFTER_EXIT_MS), then stops capturing. */
  finish(): Promise<void>;
}

export function captureOutput(child: ChildProcess, spool: OutputSpool): Capture {
  let last = Date.now();
  const onData = (chunk: Buffer): void => {
    last = Date.now();
    spool.append(chunk);
  };
  const streams = [child.stdout, child.stderr].filter((stream) => stream !== null);
  for (const stream of streams) stream.on('data', onData);

  const drain = (): Promise<void> => {
    const open = streams.filter((stream) => !stream.closed);
    if (open.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      let remaining = open.length;
      const done = (): void => {
        clearTimeout(timer);
        for (const stream of open) {
          stream.off('close', onClose);
          stream.destroy();
        }
        resolve();
      };
      const onClose = (): void => {
        remaining -= 1;
        if (remaining === 0) done();
      };
      const timer = setTimeout(done, DRAIN_AFTER_EXIT_MS);
      for (const stream of open) stream.once('close', onClose);
    });
  };

  return {
    lastOutputAt: () => last,
    async finish() {
      await drain();
      for (const stream of streams) stream.off('data', onData);
      spool.endInput();
    },
  };
}
