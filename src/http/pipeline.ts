// The one request pipeline, every route's (the GET protocol's and /mcp alike), in the order its
// safety rests on: a kept answer first (the same target and credential answered a moment ago,
// for a ticket that can no longer change, and never to a locked-out client); then the target's
// length, the route, the method, the query, the credential (lock-out first), the parameters,
// the permission, and last the handler. A test pins the order (tests/pipeline.test.ts). Every
// error becomes JSON with a hint here, domain errors through domainErrors.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../auth/auth.js';
import { checkPermission } from '../auth/auth.js';
import type { ViewContext } from '../answers/viewContext.js';
import { requestLine, requestLogHead, requestLogTail, safePath, type RequestLogFields } from '../logging/requestLine.js';
import { clientAddress, presentedCredential } from './credentials.js';
import { answerFor } from './domainErrors.js';
import { HttpError } from './httpError.js';
import { AnswerCache } from './keptAnswers.js';
import { parseQuery, splitUrl, type Query } from './query.js';
import type { AppDeps } from './requestContext.js';
import { requestView } from './requestView.js';
import { sendJson } from './respond.js';
import type { Route, RouteTable } from './route.js';
import { checkParams } from './strictParams.js';

/** The longest request target answered: a 128 KiB command URL-encoded, and the other parameters. */
export const MAX_URL_BYTES = 400 * 1024;

/** A query for routes that read nothing from it (MCP's credential is in the header only). */
const NO_QUERY: Query = new Map();

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export function requestPipeline(deps: AppDeps, routes: RouteTable): RequestListener {
  return (req, res) => {
    if (!sendKeptAnswer(deps, req, res)) void answer(deps, routes, req, res);
  };
}

function clientOf(deps: AppDeps, req: IncomingMessage): string {
  return clientAddress(req, deps.config.trustProxy, deps.config.socket !== null);
}

/**
 * Step 0, before any parsing: the answer cache holds the answer to this exact target (and
 * Authorization header). False when it holds none, or the client is locked out (the full path
 * then says why).
 */
function sendKeptAnswer(deps: AppDeps, req: IncomingMessage, res: ServerResponse): boolean {
  const startedAt = performance.now();
  const target = req.url;
  // Only /callback answers are kept (handlers/callback.ts): no other target is looked up.
  if (req.method !== 'GET' || target === undefined || !target.startsWith('/callback?')) return false;
  let kept = deps.answers.get(AnswerCache.requestKey(target, undefined));
  if (kept === undefined) {
    const authorization = req.headers.authorization;
    if (authorization === undefined) return false;
    kept = deps.answers.get(AnswerCache.requestKey(target, authorization));
    if (kept === undefined) return false;
  }
  const client = clientOf(deps, req);
  if (!deps.auth.admits(client)) return false;
  res.writeHead(200, kept.headers);
  res.end(kept.body);
  const ms = performance.now() - startedAt;
  const line = requestLine(kept.logHead, ms, kept.logTail, client);
  deps.metrics.requestAnswered('/callback', 200, ms);
  // The kept parts were checked for secrets when they were made; the address was not.
  if (deps.redactor.mayHold(client)) deps.logger.line(line);
  else deps.logger.checkedLine(line);
  return true;
}

/** Steps 1 to 8: every request that no kept answer answered. */
async function answer(deps: AppDeps, routes: RouteTable, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const startedAt = performance.now();
  const log: RequestLogFields = {};
  // Who asks, as the log line names them (through a trusted proxy: the address it saw).
  const client = clientOf(deps, req);
  // Made only for a request that waits (a long-poll): most never need one.
  let abort: AbortController | undefined;
  res.on('close', () => {
    if (!res.writableFinished) abort?.abort();
    const ms = performance.now() - startedAt;
    deps.logger.line(requestLine(requestLogHead(req.method, safePath(req.url), res.statusCode), ms, requestLogTail(log), client));
    deps.metrics.requestAnswered(routed ?? 'unknown', res.statusCode, ms);
  });
  // Every answer may carry the hash in its URLs or reveal what ran: nothing is cached.
  res.setHeader('Cache-Control', 'no-store');
  let route: Route | undefined;
  // The route's path, for the metrics' labels (few: the route table's paths, or unknown).
  let routed: string | undefined;
  try {
    // 1. The target's length.
    if ((req.url?.length ?? 0) > MAX_URL_BYTES) {
      throw new HttpError(414, `the URL is longer than ${MAX_URL_BYTES / 1024} KiB`, 'a command may be up to 128 KiB; for longer scripts write them to a file over several commands, or fetch them with curl');
    }
    // 2. The route.
    const { pathname, rawQuery } = splitUrl(req);
    route = routes.get(pathname);
    if (route !== undefined) routed = pathname;
    if (route === undefined) {
      throw new HttpError(404, `there is no ${pathname.slice(0, 80)} here`, `the endpoints are ${[...routes.keys()].filter((path) => path !== '/').join(', ')}; GET /context for how to use them`);
    }
    // 3. The method.
    const allowed = route.methods === 'any' || req.method === 'GET' || req.method === 'HEAD' || (route.methods === 'get-put' && req.method === 'PUT') || (route.methods === 'get-post' && req.method === 'POST');
    if (!allowed) {
      const hint =
        route.methods === 'get-put'
          ? `${pathname} takes GET (in chunks) or PUT with the whole body`
          : route.methods === 'get-post'
            ? `${pathname}: GET shows the pending command, POST decides`
            : 'every LLMASS endpoint is a GET with its parameters in the query string';
      const allow = route.methods === 'get-put' ? 'GET, HEAD, PUT' : route.methods === 'get-post' ? 'GET, HEAD, POST' : 'GET, HEAD';
      throw new HttpError(405, `method ${String(req.method).slice(0, 20)} is not allowed`, hint, { Allow: allow });
    }
    // 4. The query, decoded once.
    const query = parseQuery(rawQuery);
    // 5. Who asks: a locked-out client is refused before its credential is looked at.
    const credential = presented(route, req, query);
    const open = route.access === 'none' || (route.openWhen?.(req, deps) ?? false);
    const principal = open ? undefined : deps.auth.check(client, credential);
    if (principal !== undefined) log.key = principal.key;
    // 6. The parameters: only an authenticated asker learns which ones an endpoint takes.
    checkParams(pathname, query, route.params);
    // 7. What the credential opens.
    if (principal !== undefined) checkPermission(principal, route.access, pathname, query.get('session') || undefined, query.get('ticket'));
    // 8. The handler.
    // The target as received (and the header, if the credential came from it) names the answer.
    const answerKey = credential === undefined ? undefined : AnswerCache.requestKey(req.url ?? '', credential.source === 'header' ? req.headers.authorization : undefined);
    let view: ViewContext | undefined;
    await route.handler({
      req,
      res,
      query,
      client,
      deps,
      principal,
      presentedKey: credential?.kind === 'key' ? credential.value : undefined,
      answerKey,
      // Made at first use: a cached answer never needs one.
      get view() {
        view ??= viewFor(deps, principal, query);
        return view;
      },
      log,
      get signal() {
        abort ??= new AbortController();
        if (res.destroyed && !res.writableFinished) abort.abort();
        return abort.signal;
      },
    });
  } catch (error) {
    sendError(deps, req, res, route, error);
  }
}

/** The credential a route reads: MCP's is a key in the Authorization header, nothing else. */
function presented(route: Route, req: IncomingMessage, query: Query): ReturnType<typeof presentedCredential> {
  if (route.access === 'none') return undefined;
  if (route.credential === 'query-or-header') return presentedCredential(req, query);
  const credential = presentedCredential(req, NO_QUERY);
  return credential?.kind === 'key' ? credential : undefined;
}

/** The words of the answers: a text transcript's when format=text is asked for. */
function viewFor(deps: AppDeps, principal: Principal | undefined, query: Query): ViewContext {
  return requestView(deps, principal, query.get('format') === 'text' ? 'text' : 'get');
}

function sendError(deps: AppDeps, req: IncomingMessage, res: ServerResponse, route: Route | undefined, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const known = answerFor(error);
  if (known !== undefined) {
    const challenged = known.status === 401 && route?.challenge !== undefined;
    const hint = challenged && route?.challenge !== undefined ? route.challenge.hint : known.hint;
    sendJson(req, res, known.status, { error: known.message, hint }, { ...known.headers, ...(challenged ? route?.challenge?.headers(deps) : {}) });
    return;
  }
  deps.logger.error('unexpected error', { path: safePath(req.url), error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  sendJson(req, res, 500, { error: 'internal error', hint: 'this is a bug in LLMASS, not in your request; try again, and tell the operator if it persists' });
}
