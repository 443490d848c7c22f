// /metrics: Prometheus counters, gauges and histograms (prom-client, the library Prometheus's
// Node users share: its text format and its histograms are its maintainers' to keep right).
// Counters are counted as things happen; gauges are read from the running parts at each scrape.
import client from 'prom-client';

/** What the gauges read at a scrape. */
export interface MetricSources {
  readonly running: () => number;
  readonly queued: () => number;
  readonly readyShells: () => number;
  readonly readyShellCounts: () => { readonly used: number; readonly unusable: number };
  /** Spawner processes started (spawner.ts): more than one means one ended and was replaced. */
  readonly spawnerStarts: () => number;
  readonly sessions: () => Promise<number>;
}

export class Metrics {
  readonly registry = new client.Registry();
  private readonly tickets = new client.Counter({ name: 'llmass_tickets_total', help: 'Tickets ended, by status.', labelNames: ['status'], registers: [this.registry] });
  private readonly requests = new client.Counter({ name: 'llmass_requests_total', help: 'Requests answered, by route and status code.', labelNames: ['route', 'code'], registers: [this.registry] });
  private readonly authFailures = new client.Counter({ name: 'llmass_auth_failures_total', help: 'Wrong, expired or revoked keys and tokens presented.', registers: [this.registry] });
  private readonly lockouts = new client.Counter({ name: 'llmass_lockouts_total', help: 'Clients locked out after too many failures.', registers: [this.registry] });
  private readonly mcpPosts = new client.Counter({
    name: 'llmass_mcp_posts_total',
    help: 'MCP POSTs, by transport: json (one request answered directly: tool calls, lists) or sdk (the SDK\'s Streamable HTTP transport: initialize, batches, notifications, headers it refuses).',
    labelNames: ['transport'],
    registers: [this.registry],
  });
  private readonly commandSeconds = new client.Histogram({
    name: 'llmass_command_duration_seconds',
    help: 'How long commands ran, start to end.',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800],
    registers: [this.registry],
  });
  private readonly requestSeconds = new client.Histogram({
    name: 'llmass_request_duration_seconds',
    help: 'How long requests took to answer (long-polls included), by route.',
    labelNames: ['route'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60],
    registers: [this.registry],
  });

  constructor(sources: MetricSources) {
    const gauge = (name: string, help: string, read: () => number | Promise<number>): void => {
      new client.Gauge({
        name,
        help,
        registers: [this.registry],
        async collect() {
          this.set(await read());
        },
      });
    };
    gauge('llmass_commands_running', 'Commands running now.', sources.running);
    gauge('llmass_commands_queued', 'Tickets waiting to start.', sources.queued);
    gauge('llmass_ready_shells', 'Shells started ahead, waiting for their session\'s next command.', sources.readyShells);
    const counter = (name: string, help: string, read: () => number): void => {
      new client.Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    };
    counter('llmass_ready_shells_used_total', 'Commands that started in their session\'s shell started ahead.', () => sources.readyShellCounts().used);
    counter('llmass_spawner_starts_total', 'Spawner processes started to fork the shells started ahead; more than 1 means one ended and was replaced.', sources.spawnerStarts);
    counter('llmass_ready_shells_unusable_total', 'Shells started ahead found dead or gone from their group when their command came (a new shell started).', () => sources.readyShellCounts().unusable);
    gauge('llmass_sessions', 'Sessions in SESSIONS_DIR.', sources.sessions);
  }

  mcpPost(transport: 'json' | 'sdk'): void {
    this.mcpPosts.inc({ transport });
  }

  ticketEnded(status: string, durationMs: number | null): void {
    this.tickets.inc({ status });
    if (durationMs !== null) this.commandSeconds.observe(durationMs / 1000);
  }

  /** `route`: a path of the route table, or `unknown`, so that the labels stay few. */
  requestAnswered(route: string, code: number, ms: number): void {
    this.requests.inc({ route, code: String(code) });
    this.requestSeconds.observe({ route }, ms / 1000);
  }

  authFailed(lockedOut: boolean): void {
    this.authFailures.inc();
    if (lockedOut) this.lockouts.inc();
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
