// The terminals of running tty=1 tickets, as the edge reaches them: numbered writes, waiting
// for the output to go quiet or to grow, and the screen.
import type { Screen } from '../protocol/types.js';
import type { StdinResult } from './admission.js';
import type { RunningTickets } from './runningTickets.js';

export class TerminalAccess {
  constructor(
    private readonly runs: RunningTickets,
    /** Resolves when the ticket finishes, or after `ms`. */
    private readonly waitForEnd: (session: string, ticket: number, ms: number, signal?: AbortSignal) => Promise<unknown>,
  ) {}

  /**
   * Write `n` to a running tty=1 ticket's terminal. `offset`: the output so far before it, from
   * which the answer shows what the write produced.
   */
  write(session: string, ticket: number, n: number, text: Buffer, eof: boolean): StdinResult {
    const run = this.runs.running(session, ticket);
    if (run === undefined || run.ended) return { kind: 'not-running' };
    if (run.terminal === undefined) return { kind: 'no-terminal' };
    const offset = run.watch.total;
    const decision = run.terminal.write(n, text, eof);
    if (decision.kind === 'conflict') return decision;
    return { kind: decision.kind === 'accept' ? 'written' : 'replay', offset };
  }

  /** Resolves once a running ticket's output has been quiet for `quietMs`, it ends, or `ms` passes. */
  async waitQuiet(session: string, ticket: number, quietMs: number, ms: number, signal?: AbortSignal): Promise<void> {
    const run = this.runs.running(session, ticket);
    if (run === undefined) return;
    await Promise.race([run.watch.quiet(quietMs, ms, signal), this.waitForEnd(session, ticket, ms, signal)]);
  }

  /** Resolves once a running ticket has written more than `bytes`, it ends, or `ms` passes (since=). */
  async waitBeyond(session: string, ticket: number, bytes: number, ms: number, signal?: AbortSignal): Promise<void> {
    const run = this.runs.running(session, ticket);
    if (run === undefined) return;
    await Promise.race([run.watch.beyond(bytes, ms, signal), this.waitForEnd(session, ticket, ms, signal)]);
  }

  /** A running tty=1 ticket's screen now; undefined when it is not one (a finished one's is in its record). */
  async screen(session: string, ticket: number): Promise<Screen | undefined> {
    return this.runs.running(session, ticket)?.terminal?.screen();
  }
}
