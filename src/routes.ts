// The route table: every path the server answers, its handler, the credential it takes, and its
// parameters (from the protocol's one description, protocol/endpoints.ts). The GET protocol's
// handlers are in http/handlers; /mcp is reach/'s, loaded at its first request (the MCP SDK is
// large, and a smaller server forks faster). Every route goes through the one pipeline.
import type { Handler } from './http/requestContext.js';
import type { Route, RouteTable } from './http/route.js';
import { callback } from './http/handlers/callback.js';
import { cancel } from './http/handlers/cancel.js';
import { context } from './http/handlers/context.js';
import { healthz } from './http/handlers/healthz.js';
import { history } from './http/handlers/history.js';
import { favicon, index } from './http/handlers/index.js';
import { openapi } from './http/handlers/openapi.js';
import { sessions } from './http/handlers/sessions.js';
import { shell } from './http/handlers/shell.js';
import { view } from './http/handlers/view.js';
import { file } from './http/handlers/file.js';
import { screen, stdin } from './http/handlers/terminal.js';
import { metrics, metricsOpenTo } from './http/handlers/metrics.js';
import { noRegistration, protectedResource } from './http/handlers/oauthMetadata.js';
import { upload } from './http/handlers/upload.js';
import { approve, deny } from './http/handlers/approval.js';
import { ENDPOINTS } from './protocol/endpoints.js';

/** An endpoint's parameters, from the one description of the protocol. */
function paramsOf(path: string): readonly string[] {
  const spec = ENDPOINTS[path];
  if (spec === undefined) throw new Error(`no description of ${path} in protocol/endpoints.ts`);
  return spec.params;
}

function get(path: string, handler: Handler, access: Route['access'], methods: Route['methods'] = 'get'): [string, Route] {
  return [path, { handler, access, params: paramsOf(path), methods, credential: 'query-or-header' }];
}

const mcp: Handler = async (ctx) => (await import('./reach/mcp.js')).mcp(ctx);

export const routes: RouteTable = new Map<string, Route>([
  get('/', index, 'none'),
  get('/favicon.ico', favicon, 'none'),
  get('/.well-known/oauth-protected-resource', protectedResource, 'none'),
  get('/.well-known/oauth-protected-resource/mcp', protectedResource, 'none'),
  ['/register', { handler: noRegistration, access: 'none', params: [], methods: 'any', credential: 'query-or-header' }],
  get('/healthz', healthz, 'none'),
  get('/openapi.json', openapi, 'none'),
  get('/context', context, 'key'),
  get('/shell', shell, 'exec'),
  get('/callback', callback, 'read'),
  get('/history', history, 'read'),
  get('/cancel', cancel, 'exec'),
  get('/sessions', sessions, 'key'),
  get('/view', view, 'read'),
  // A decision is a POST; a GET of an approval link only shows the command.
  get('/approve', approve, 'approve', 'get-post'),
  get('/deny', deny, 'approve', 'get-post'),
  ['/metrics', { handler: metrics, access: 'operator', params: paramsOf('/metrics'), methods: 'get', credential: 'query-or-header', openWhen: metricsOpenTo }],
  get('/stdin', stdin, 'exec'),
  get('/screen', screen, 'read'),
  // Files are the host's, not the session's record: a read token (a watcher's) opens neither.
  get('/file', file, 'exec'),
  get('/upload', upload, 'exec', 'get-put'),
  [
    '/mcp',
    {
      handler: mcp,
      // A token opens one session; MCP's tools reach every session of the key.
      access: 'key',
      params: [],
      methods: 'any',
      credential: 'header-key',
      // As the MCP authorization spec has a server say it: 401 with the protected resource's
      // metadata (which names no authorization server: this server's keys are given by its operator).
      challenge: {
        hint: 'send your key as the header Authorization: Bearer <key>',
        headers: (deps) => ({
          'WWW-Authenticate': `Bearer realm="llmass", error="invalid_token", error_description="the key is wrong or missing: send Authorization: Bearer <key>", resource_metadata="${deps.site.fqdn}/.well-known/oauth-protected-resource"`,
        }),
      },
    },
  ],
]);
