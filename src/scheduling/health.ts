// Whether commands can run, as /healthz reports it. Healthy only on evidence: the start-up
// self-check passed, and no ticket has since ended `error` because its command never started,
// unless a self-check passed after it. While unhealthy a self-check runs again every
// RECHECK_MS (and at most every MIN_GAP_MS when /healthz is asked), so a fixed host recovers by
// itself.
import { describeFailure, type SelfCheckResult } from '../running/selfCheck.js';

const RECHECK_MS = 10_000;
const MIN_GAP_MS = 2_000;

export type HealthState = { readonly ok: true } | { readonly ok: false; readonly error: string };

export interface HealthDeps {
  readonly check: () => Promise<SelfCheckResult>;
  readonly onChange: (state: HealthState) => void;
  readonly now?: () => number;
}

export class Health {
  private problem: string | null = null;
  private running: Promise<void> | null = null;
  private lastCheckAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly deps: HealthDeps) {}

  get state(): HealthState {
    return this.problem === null ? { ok: true } : { ok: false, error: this.problem };
  }

  /** A ticket ended `error`: its command never started. Unhealthy until a self-check passes. */
  commandNeverStarted(reason: string): void {
    this.set(`a command could not start: ${reason}`);
    this.recheck();
  }

  /** /healthz was asked while unhealthy: check again, unless a check ran a moment ago. */
  poke(): void {
    if (this.problem !== null) this.recheck();
  }

  /** Stops checking (shutdown). */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private recheck(): void {
    if (this.closed || this.running !== null || this.now() - this.lastCheckAt < MIN_GAP_MS) return;
    this.lastCheckAt = this.now();
    this.running = this.deps
      .check()
      .then((result) => this.set(result.ok ? null : describeFailure(result)))
      .catch((error: unknown) => this.set(`the self-check itself failed: ${String(error)}`))
      .finally(() => {
        this.running = null;
        this.schedule();
      });
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.closed || this.problem === null) return;
    this.timer = setTimeout(() => this.recheck(), RECHECK_MS);
    this.timer.unref();
  }

  private set(problem: string | null): void {
    const changed = problem !== this.problem;
    this.problem = problem;
    if (changed) this.deps.onChange(this.state);
  }
}
