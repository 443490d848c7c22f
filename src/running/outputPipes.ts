// Output capture: a command's stdout and stderr pipes feed its spool, in arrival order, and
// the time of the last output is kept for the idle limit. When the shell exits, what is left
// in the pipes is read for a short while; after that the pipes are still read, and what comes
// is discarded, until the background processes holding them exit: a background server must
// never die of a closed pipe (EPIPE/SIGPIPE) because its ticket ended.
import type { ChildProcess } from 'node:child_process';
import { Readable } from 'node:stream';

/** Where a command's output goes: its spool (spool.ts), or the self-check's memory. */
export interface OutputSink {
  append(chunk: Buffer): void;
  /** The command's output has ended: nothing more is appended. */
  endInput(): void;
}
import { STARTED_LINE } from './prelude.js';

/**
 * After the shell exits, how long we keep reading output its background children may still
 * hold the pipe open for. The ticket finishes then: `sleep 100 &` must not hold it open.
 */
const DRAIN_AFTER_EXIT_MS = 150;

export interface Capture {
  /** Date.now() of the last chunk of output (or of the start). */
  lastOutputAt(): number;
  /** Whether the prelude said on fd 3 that it took the command (prelude.ts): the evidence that it ran. */
  started(): boolean;
  /** What the shell handed back on fd 3 after that (its state, see prelude.ts), at most MAX_STATE_BYTES. */
  state(): Buffer;
  /** Reads what is left in the pipes (up to DRAIN_AFTER_EXIT_MS) into the spool; later output is discarded. */
  finish(): Promise<void>;
}

function discard(): void {
  // Output of background processes after their ticket ended: not kept (see README).
}

export function captureOutput(child: Pick<ChildProcess, 'stdout' | 'stderr' | 'stdio'>, spool: OutputSink, maxStateBytes: number): Capture {
  let last = Date.now();
  const stateParts: Buffer[] = [];
  let stateBytes = 0;
  const stateStream = child.stdio[3];
  stateStream?.on('data', (chunk: Buffer) => {
    stateBytes += chunk.length;
    if (stateBytes <= maxStateBytes) stateParts.push(chunk);
  });
  // Its errors (a shell that never reads its go, or closes fd 3) are ignored from the spawn on (shellProcess.ts).
  const onData = (chunk: Buffer): void => {
    last = Date.now();
    spool.append(chunk);
  };
  const streams = [child.stdout, child.stderr].filter((stream) => stream !== null);
  // The state is written just before the shell exits: it is drained with the output.
  const drained = stateStream instanceof Readable ? [...streams, stateStream] : streams;
  for (const stream of streams) stream.on('data', onData);

  const drain = (): Promise<void> => {
    const open = drained.filter((stream) => !stream.closed);
    if (open.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      let remaining = open.length;
      const done = (): void => {
        clearTimeout(timer);
        for (const stream of open) stream.off('close', onClose);
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

  // The announcement comes first on fd 3, before the command can write anything there.
  const received = (): Buffer => Buffer.concat(stateParts);
  const announced = (bytes: Buffer): boolean => bytes.subarray(0, STARTED_LINE.length).equals(STARTED_LINE);
  return {
    lastOutputAt: () => last,
    started: () => announced(received()),
    state: () => {
      const bytes = received();
      if (stateBytes > maxStateBytes || !announced(bytes)) return Buffer.alloc(0);
      return bytes.subarray(STARTED_LINE.length);
    },
    async finish() {
      await drain();
      for (const stream of streams) {
        stream.off('data', onData);
        // Still flowing, into nothing, until the last process holding the pipe exits.
        if (!stream.closed) stream.on('data', discard);
      }
      spool.endInput();
      // Background processes keep fd 3 too; the state was written before the shell exited.
      stateStream?.destroy();
    },
  };
}
