// What the route table (src/routes.ts) says of each path: its handler, the credential it takes,
// its parameters, its methods, and where its credential may be. The pipeline reads nothing else.
import type { RouteAccess } from '../auth/auth.js';
import type { IncomingMessage } from 'node:http';
import type { AppDeps, Handler } from './requestContext.js';

export interface Route {
  readonly handler: Handler;
  /** What credential the route takes: none, a key only, an exec token, or any token of the session. */
  readonly access: RouteAccess;
  /** The parameters the endpoint takes (besides the credential); any other is a 400. */
  readonly params: readonly string[];
  /** `get`: GET and HEAD only (the GET protocol); `get-put`: and PUT with a body (/upload); `get-post`: and POST (a decision: /approve, /deny); `any`: the handler answers every method (MCP's transport). */
  readonly methods: 'get' | 'get-put' | 'get-post' | 'any';
  /** Where the credential is read: the query or the Authorization header, or (MCP) a key in the header only. */
  readonly credential: 'query-or-header' | 'header-key';
  /** When the route needs no credential after all (/metrics with METRICS_OPEN, asked locally). */
  readonly openWhen?: (req: IncomingMessage, deps: AppDeps) => boolean;
  /** What a 401 on this route says instead of the usual, and the headers it adds (MCP's WWW-Authenticate). */
  readonly challenge?: { readonly hint: string; readonly headers: (deps: AppDeps) => Readonly<Record<string, string>> };
}

export type RouteTable = ReadonlyMap<string, Route>;
