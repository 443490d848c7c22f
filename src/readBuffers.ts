// Memory of a command's output while it is read. Node reads a pipe into a new buffer each time
// (64 KiB), and once the output is spooled nothing holds it; but V8 frees such buffers only at
// a garbage collection, which it starts by itself only after some 40 MB of them have piled up.
// A command printing without pause (`cat` of a large file) would grow the server's memory by
// that much. A young-generation collection every few megabytes of output frees them sooner:
// it costs well under a millisecond, against the several milliseconds it takes to read them.
import v8 from 'node:v8';
import vm from 'node:vm';

/** Output read between two collections: the memory it may hold before it is freed. */
export const COLLECT_EVERY_BYTES = 4 * 1024 * 1024;

export type YoungCollection = () => void;

/**
 * V8's collection as a function (`gc`), which Node offers only with --expose-gc: the flag is set
 * for the moment it takes to make one context that has it, then unset again, so that no other
 * code (a vm context made later) gets it. Undefined if this V8 refuses.
 */
export function youngCollection(): YoungCollection | undefined {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    if (typeof gc !== 'function') return undefined;
    return () => gc({ type: 'minor' });
  } catch {
    return undefined;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}

/** Counts output read from every command's pipes and collects after each COLLECT_EVERY_BYTES. */
export class ReadBuffers {
  private sinceCollection = 0;

  constructor(
    private readonly collect: YoungCollection | undefined = youngCollection(),
    private readonly everyBytes = COLLECT_EVERY_BYTES,
  ) {}

  /** `bytes` more were read from a command's pipe and are no longer needed. */
  read(bytes: number): void {
    this.sinceCollection += bytes;
    if (this.sinceCollection < this.everyBytes) return;
    this.sinceCollection = 0;
    this.collect?.();
  }
}
