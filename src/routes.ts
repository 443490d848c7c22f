// The route table: path -> handler, the credential it takes, and its parameters (apiSpec.ts).
import { ENDPOINTS } from './protocol/endpoints.js';
import type { RouteAccess } from './auth/auth.js';
import { openapi } from './http/handlers/openapi.js';
import type { Handler } from './http/requestContext.js';
import { callback } from './http/handlers/callback.js';
import { cancel } from './http/handlers/cancel.js';
import { context } from './http/handlers/context.js';
import { healthz } from './http/handlers/healthz.js';
import { history } from './http/handlers/history.js';
import { index } from './http/handlers/index.js';
import { sessions } from './http/handlers/sessions.js';
import { shell } from './http/handlers/shell.js';
import { view } from './http/handlers/view.js';

export interface Route {
  readonly handler: Handler;
  /** What credential the route takes: none, a key only, an exec token, or any token of the session. */
  readonly access: RouteAccess;
  /** The parameters the endpoint takes (besides the credential); any other is a 400. */
  readonly params: readonly string[];
}

/** An endpoint's parameters, from the one description of the protocol (apiSpec.ts). */
function paramsOf(path: string): readonly string[] {
  const spec = ENDPOINTS[path];
  if (spec === undefined) throw new Error(`no description of ${path} in apiSpec.ts`);
  return spec.params;
}

export const routes: ReadonlyMap<string, Route> = new Map<string, Route>([
  ['/', { handler: index, access: 'none', params: paramsOf('/') }],
  ['/healthz', { handler: healthz, access: 'none', params: paramsOf('/healthz') }],
  ['/openapi.json', { handler: openapi, access: 'none', params: paramsOf('/openapi.json') }],
  ['/context', { handler: context, access: 'key', params: paramsOf('/context') }],
  ['/shell', { handler: shell, access: 'exec', params: paramsOf('/shell') }],
  ['/callback', { handler: callback, access: 'read', params: paramsOf('/callback') }],
  ['/history', { handler: history, access: 'read', params: paramsOf('/history') }],
  ['/cancel', { handler: cancel, access: 'exec', params: paramsOf('/cancel') }],
  ['/sessions', { handler: sessions, access: 'key', params: paramsOf('/sessions') }],
  ['/view', { handler: view, access: 'read', params: paramsOf('/view') }],
]);
