// GET /healthz: for Caddy and service managers. No hash, and nothing about the sessions:
// 200 while commands can run, 503 with the reason while they cannot (health.ts).
import type { Handler } from '../requestContext.js';
import { sendJson } from '../respond.js';

export const healthz: Handler = async ({ req, res, deps }) => {
  const state = deps.health.state;
  if (state.ok) {
    sendJson(req, res, 200, { ok: true });
    return;
  }
  deps.health.poke();
  sendJson(req, res, 503, { ok: false, error: state.error, hint: 'commands cannot run now; the server log names the failing step and its fix, and the server checks again by itself every few seconds' });
};
