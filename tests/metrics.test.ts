// /metrics: a real scrape, every line of it parsed as the Prometheus text format; its counters
// following what happened; the operator's key only, or a local unproxied request with METRICS_OPEN.
import { afterEach, describe, expect, it } from 'vitest';
import { closeInProcessApps, inProcessApp } from './helpers/inProcess.js';

afterEach(closeInProcessApps);

/** The samples of a Prometheus text exposition; throws on a line that is not one. */
function samples(text: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})?) (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    if (match === null) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    found.set(match[1] ?? '', Number(match[2]));
  }
  return found;
}

describe('/metrics', () => {
  it('is Prometheus text whose counters follow what happened', async () => {
    const server = await inProcessApp();
    await server.get('/shell', { session: 'm', cmd: 'true', wait: 10 });
    await server.get('/sessions', { hash: 'w'.repeat(40) });
    const scrape = await server.get('/metrics');
    expect(scrape.status).toBe(200);
    expect(scrape.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const values = samples(scrape.body);
    expect(values.get('llmass_tickets_total{status="done"}')).toBe(1);
    expect(values.get('llmass_requests_total{route="/shell",code="200"}')).toBe(1);
    expect(values.get('llmass_requests_total{route="/sessions",code="401"}')).toBe(1);
    expect(values.get('llmass_auth_failures_total')).toBe(1);
    expect(values.get('llmass_commands_running')).toBe(0);
    expect(values.get('llmass_sessions')).toBe(1);
    expect(values.get('llmass_command_duration_seconds_count')).toBe(1);
    expect(scrape.body).not.toContain(server.hash);
  });

  it('is the operator\'s: a token or another key is refused; METRICS_OPEN opens it to local, unproxied requests only', async () => {
    const server = await inProcessApp();
    const submitted = (await server.get('/shell', { session: 'm', cmd: 'true', wait: 10 })).json<{ shell: string }>();
    const token = new URL(submitted.shell).searchParams.get('token') ?? '';
    expect((await server.app.inject({ url: `/metrics?token=${token}` })).status).toBe(403);
    expect((await server.app.inject({ url: '/metrics' })).status).toBe(401);
    const open = await inProcessApp({ METRICS_OPEN: '1' });
    expect((await open.app.inject({ url: '/metrics' })).status).toBe(200);
    expect((await open.app.inject({ url: '/metrics', headers: { 'x-forwarded-for': '203.0.113.9' } })).status).toBe(401);
    expect((await open.app.inject({ url: '/metrics', remoteAddress: '192.0.2.7' })).status).toBe(401);
  });
});
