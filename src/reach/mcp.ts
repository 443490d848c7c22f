// /mcp: MCP over Streamable HTTP (the official SDK), stateless: each POST gets a fresh
// transport (for a tool call, the lighter one of mcpJsonCall.ts), and a server from a pool of
// idle ones (building one, with its tools and their schemas, cost about as much as the call
// itself: issue 28). The tools are mcpTools.ts's; a call finds its request's context through the
// auth info the transport hands it. A route like the others (src/routes.ts): the pipeline
// authenticates it with the same keys, as a Bearer header; without one, 401 with WWW-Authenticate.
import type { IncomingMessage } from 'node:http';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AnswerContext, AppDeps, Handler } from '../http/requestContext.js';
import { VERSION } from '../http/handlers/openapi.js';
import { HttpError } from '../http/httpError.js';
import { requestView } from '../http/requestView.js';
import { buildMcpServer, type CallExtra } from './mcpTools.js';
import { JsonCallTransport, singleJsonRequest } from './mcpJsonCall.js';

/** The longest wait a tool call holds: below the usual 60 s limit MCP clients put on one call. */
export const MCP_MAX_WAIT = 45;
const MAX_BODY_BYTES = 1024 * 1024;

/** How long an oversized body may go on arriving, unread, after its 413 was sent. */
const OVERSIZE_DRAIN_MS = 5000;

/**
 * A body over MAX_BODY_BYTES gets a 413 that reaches the client: the rest of the body is read
 * and dropped (for a few seconds at most) instead of the connection being reset under the
 * answer, which a proxy would report as the server being down.
 */
function refuseOversized(req: IncomingMessage, onData: (chunk: Buffer) => void): HttpError {
  req.off('data', onData);
  req.resume();
  // No `Connection: close`: node would then close the socket as soon as the answer is out, with
  // the body still arriving, and the client's next write would meet a reset instead.
  const drainLimit = setTimeout(() => req.destroy(), OVERSIZE_DRAIN_MS);
  drainLimit.unref();
  req.once('end', () => clearTimeout(drainLimit));
  return new HttpError(413, `the MCP message is larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB`, 'send smaller messages');
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const parts: Buffer[] = [];
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(refuseOversized(req, onData));
        return;
      }
      parts.push(chunk);
    };
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
      reject(refuseOversized(req, onData));
      return;
    }
    req.on('data', onData);
    req.on('end', () => {
      if (parts.length === 0) {
        resolve(undefined);
        return;
      }
      try {
        resolve(JSON.parse(Buffer.concat(parts).toString('utf8')));
      } catch {
        reject(new HttpError(400, 'the MCP message is not JSON', 'send a JSON-RPC message'));
      }
    });
    req.on('error', reject);
  });
}

/** Each request's context, under the auth info its transport hands to its tool calls. */
const contexts = new WeakMap<AuthInfo, AnswerContext>();

function contextOf(extra: CallExtra): AnswerContext {
  const ctx = extra.authInfo === undefined ? undefined : contexts.get(extra.authInfo);
  if (ctx === undefined) throw new Error('an MCP tool call without its request');
  return ctx;
}

/** Idle servers kept at most: more are built while more requests are in flight, then dropped. */
const MAX_IDLE = 8;

/**
 * The servers of one app not serving a request now. A server serves one transport at a time; once
 * its transport has closed it holds nothing of that request (its handlers in flight are aborted,
 * their late results go to the closed transport) and may connect to the next. What it keeps of
 * an `initialize` (the client's capabilities) it would use only to make requests of the client,
 * which these tools never do.
 */
class ServerPool {
  private readonly idle: McpServer[] = [];

  constructor(private readonly maxWait: number) {}

  take(): McpServer {
    return this.idle.pop() ?? buildMcpServer(this.maxWait, VERSION, contextOf);
  }

  giveBack(server: McpServer): void {
    if (!server.isConnected() && this.idle.length < MAX_IDLE) this.idle.push(server);
  }
}

const pools = new WeakMap<AppDeps, ServerPool>();

function poolOf(deps: AppDeps, maxWait: number): ServerPool {
  let pool = pools.get(deps);
  if (pool === undefined) {
    pool = new ServerPool(maxWait);
    pools.set(deps, pool);
  }
  return pool;
}

/**
 * The /mcp route's handler. The pipeline has authenticated the asker already (a key in the
 * Authorization header; a 401 here carries WWW-Authenticate, from the route table).
 */
export const mcp: Handler = async (request) => {
  const { req, res, deps, principal, client, log } = request;
  if (principal === undefined) throw new Error('/mcp is routed without a credential');
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  const maxWait = Math.min(deps.config.maxWait, MCP_MAX_WAIT);
  const ctx: AnswerContext = {
    client,
    deps,
    principal,
    presentedKey: request.presentedKey,
    view: requestView(deps, principal, 'mcp'),
    log,
    signal: abort.signal,
    maxWait,
  };
  const body = req.method === 'POST' ? await readBody(req) : undefined;
  // The transport hands `req.auth` to every tool call of this request; it holds no credential.
  const auth: AuthInfo = { token: '', clientId: client, scopes: [] };
  contexts.set(auth, ctx);
  const pool = poolOf(deps, maxWait);
  const server = pool.take();
  // A tool call (one request, the usual headers) is answered without the SDK's transport and its
  // web Request and Response (mcpJsonCall.ts); anything else goes through it.
  const single = singleJsonRequest(req, body);
  if (req.method === 'POST') deps.metrics.mcpPost(single === undefined ? 'sdk' : 'json');
  const transport = single === undefined ? new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true }) : new JsonCallTransport(single, req, res, auth);
  res.on('close', () => {
    void transport.close().then(() => pool.giveBack(server));
  });
  await server.connect(transport);
  if (transport instanceof JsonCallTransport) transport.deliver();
  else await transport.handleRequest(Object.assign(req, { auth }), res, body);
};
