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
}

export const routes: ReadonlyMap<string, Route> = new Map([
  ['/', { handler: index, auth: false }],
  ['/healthz', { handler: healthz, auth: false }],
  ['/context', { handler: context, auth: true }],
  ['/shell', { handler: shell, auth: true }],
  ['/callback', { handler: callback, auth: true }],
  ['/history', { handler: history, auth: true }],
  ['/cancel', { handler: cancel, auth: true }],
  ['/sessions', { handler: sessions, auth: true }],
  ['/view', { handler: view, auth: true }],
]);
