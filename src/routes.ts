// The route table: path -> handler, and whether the hash is required.
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
  readonly auth: boolean;
  /** The parameters the endpoint takes (besides the credential); any other is a 400. */
  readonly params: readonly string[];
}

export const routes: ReadonlyMap<string, Route> = new Map<string, Route>([
  ['/', { handler: index, auth: false, params: [] }],
  ['/healthz', { handler: healthz, auth: false, params: [] }],
  ['/context', { handler: context, auth: true, params: ['format'] }],
  ['/shell', { handler: shell, auth: true, params: ['cmd', 'cmd64', 'session', 'timeout', 'idle_timeout', 'nonce', 'wait', 'format'] }],
  ['/callback', { handler: callback, auth: true, params: ['session', 'ticket', 'wait', 'offset', 'limit', 'format', 'cursor'] }],
  ['/history', { handler: history, auth: true, params: ['session', 'after', 'format'] }],
  ['/cancel', { handler: cancel, auth: true, params: ['session', 'ticket'] }],
  ['/sessions', { handler: sessions, auth: true, params: ['format'] }],
  ['/view', { handler: view, auth: true, params: ['session'] }],
]);
