// GET /metrics: the Prometheus text exposition, for the operator's key (HASH), or, with
// METRICS_OPEN=1, for a request made on this host that came through no proxy (a scraper on the
// jumphost itself; through Caddy, which adds X-Forwarded-For, it stays closed).
import type { IncomingMessage } from 'node:http';
import type { AppDeps, Handler } from '../requestContext.js';
import { sendText } from '../respond.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** A local, unproxied request when METRICS_OPEN=1: it needs no key. */
export function metricsOpenTo(req: IncomingMessage, deps: AppDeps): boolean {
  if (!deps.config.metricsOpen || req.headers['x-forwarded-for'] !== undefined) return false;
  return deps.config.socket !== null ? req.socket.remoteAddress === undefined : LOOPBACK.has(req.socket.remoteAddress ?? '');
}

export const metrics: Handler = async ({ req, res, deps }) => {
  sendText(req, res, 200, await deps.metrics.text(), {}, deps.metrics.contentType);
};
