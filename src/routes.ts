// The route table: path -> handler, and whether the hash is required.
import type { RouteAccess } from './auth.js';
import type { Handler } from './deps.js';
import { callback } from './handlers/callback.js';
import { cancel } from './handlers/cancel.js';
import { context } from './handlers/context.js';
import { healthz } from './handlers/healthz.js';
import { history } from './handlers/history.js';
import { index } from './handlers/index.js';
import { sessions } from './handlers/sessions.js';
import { shell } from './handlers/shell.js';
import { view } from './handlers/view.js';

export interface Route {
  readonly handler: Handler;
  /** What credential the route takes: none, a key only, an exec token, or any token of the session. */
  readonly access: RouteAccess;
  /** The parameters the endpoint takes (besides the credential); any other is a 400. */
  readonly params: readonly string[];
}

export const routes: ReadonlyMap<string, Route> = new Map<string, Route>([
  ['/', { handler: index, access: 'none', params: [] }],
  ['/healthz', { handler: healthz, access: 'none', params: [] }],
  ['/context', { handler: context, access: 'key', params: ['format'] }],
  ['/shell', { handler: shell, access: 'exec', params: ['cmd', 'cmd64', 'session', 'timeout', 'idle_timeout', 'nonce', 'wait', 'format'] }],
  ['/callback', { handler: callback, access: 'read', params: ['session', 'ticket', 'wait', 'offset', 'limit', 'format', 'cursor'] }],
  ['/history', { handler: history, access: 'read', params: ['session', 'after', 'format'] }],
  ['/cancel', { handler: cancel, access: 'exec', params: ['session', 'ticket'] }],
  ['/sessions', { handler: sessions, access: 'key', params: ['format'] }],
  ['/view', { handler: view, access: 'read', params: ['session'] }],
]);
