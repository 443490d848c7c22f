// Wires the parts together: createApp(config) builds the store, scheduler, auth and audit log,
// and a node:http server that routes each GET to its handler. All state lives in here.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import type { Duplex } from 'node:stream';
import { customAlphabet } from 'nanoid';
import { AuditLog } from './logging/audit.js';
import { Auth, checkPermission, clientAddress, presentedCredential } from './auth/auth.js';
import type { Keyring } from './auth/keys.js';
import { LockOut } from './auth/lockout.js';
import { TOKEN_IN_TEXT, TokenCache, TokenSigner } from './auth/tokens.js';
import type { Config } from './config/config.js';
import type { AppDeps, RequestContext } from './http/requestContext.js';
import { HttpError, parseQuery, sendJson, splitUrl } from './http/respond.js';
import type { Logger } from './logging/logger.js';
import { acquireLock, recoverTickets } from './scheduling/recovery.js';
import { documentReader } from './answers/html.js';
import { routes } from './routes.js';
import { cursorMaker, type SiteContext, type ViewContext } from './answers/views.js';
import { requestView } from './http/requestView.js';
import { AnswerCache } from './http/keptAnswers.js';
import { requestLine, requestLogHead, requestLogTail, safePath } from './logging/requestLine.js';
import { VERSION } from './http/handlers/openapi.js';
import { checkParams } from './http/strictParams.js';
import type { Redactor } from './logging/redact.js';
import { Scheduler } from './scheduling/scheduler.js';
import { SessionLayout } from './storage/sessionLayout.js';
import { firstEnvironment, type CommandUser } from './running/commandUser.js';
import { PRELUDE_FILE } from './running/prelude.js';
import { ProcessTracking } from './running/processTracking.js';
import { Health } from './scheduling/health.js';
import { describeFailure, runSelfCheck, type SelfCheckResult } from './running/selfCheck.js';
import { ShellStates } from './running/shellState.js';
import { TicketStore } from './storage/ticketStore.js';

/** New session names: letters and digits only, so they always match the session rule. */
const newSessionName = customAlphabet('0123456789abcdefghijklmnopqrstuvwxyz', 12);

/** Where the server listens: a TCP address, or a unix socket. */
export type Listening = { readonly kind: 'tcp'; readonly url: string; readonly port: number } | { readonly kind: 'socket'; readonly path: string };

export interface App {
  readonly server: http.Server;
  /** Recovers unfinished tickets, then listens. Resolves with where it listens. */
  start(): Promise<Listening>;
  /** Stops taking commands, ends running ones within SHUTDOWN_GRACE, closes the server. */
  shutdown(): Promise<void>;
  /** The public base URL answers use (FQDN, or derived from the bound port). */
  fqdn(): string;
  /** Reopens the audit log file (after log rotation moved it). */
  reopenLogs(): void;
  /** Reads KEYS_FILE again: removed keys, and every token they minted, fail from then on. */
  reloadKeys(): void;
}

/**
 * node:http's limit on a request's head. A 128 KiB command is up to 384 KiB once URL-encoded;
 * this leaves room for the rest of the URL and the headers. Larger heads get a JSON 431.
 */
export const MAX_HEADER_BYTES = 512 * 1024;
/** The longest request target answered: a 128 KiB command URL-encoded, and the other parameters. */
export const MAX_URL_BYTES = 400 * 1024;
/**
 * Connections waiting to be accepted. A full backlog on a unix socket refuses at once (Caddy then
 * answers 503 for a healthy server), so it is sized for bursts; the kernel caps it at
 * net.core.somaxconn (4096 by default since Linux 5.4; the Deploy names it).
 */
export const LISTEN_BACKLOG = 4096;
/**
 * How long a request may take to arrive, head and body (an MCP POST): a slow client cannot hold
 * a connection open for ever. A long-poll is not affected: its request has arrived; only its
 * answer waits.
 */
export const REQUEST_ARRIVAL_MS = 15_000;

/** A record holds at most MAX_OUTPUT_BYTES of output (up to 6 bytes each once JSON-escaped) and a 128 KiB command. */
function maxRecordBytes(config: Config): number {
  return (config.maxOutputBytes + 64 * 1024) * 6 + 2 * 1024 * 1024;
}

export function createApp(config: Config, logger: Logger, redactor: Redactor, keyring: Keyring, commandUser: CommandUser | null): App {
  const signer = new TokenSigner(config.hash, (name) => keyring.secretOf(name));
  // Reuse a token (and an answer that carries one) for at most a tenth of its life, and a minute.
  const reuseMs = Math.min(60_000, config.tokenTtl * 100);
  const tokens = new TokenCache(signer, config.tokenTtl, Date.now, reuseMs);
  const answers = new AnswerCache(reuseMs);
  // Tokens are redacted from logs and stored commands like keys: only real ones (they verify).
  redactor.recognise(TOKEN_IN_TEXT, (candidate) => signer.verify(candidate).ok);
  const layout = new SessionLayout(config.sessionsDir);
  const privateDir = layout.privateDir();
  const store = new TicketStore(layout, maxRecordBytes(config));
  const audit = new AuditLog(config.auditLog, redactor, logger);
  const onError = (message: string, error: unknown): void => logger.error(message, { error: String(error) });
  const workdir = commandUser !== null && !config.workdirConfigured ? commandUser.home : config.workdir;
  const shells = new ShellStates(layout, config.commandShell, PRELUDE_FILE, workdir, firstEnvironment(process.env, commandUser, config.commandShell), {
    maxProcesses: config.commandMaxProcesses,
    maxMemoryBytes: config.commandMaxMemory,
  }, onError);
  const tracking = ProcessTracking.detect(ProcessTracking.scopeOf(config.sessionsDir), (why) => logger.info('processes are tracked by an environment marker, not a cgroup', { why }));
  const scheduler = new Scheduler({
    config,
    tracking,
    commandUser,
    store,
    shells,
    audit,
    redactor,
    newSessionName,
    onError,
    // Called only once tickets run, after `health` is made below.
    onNeverStarted: (reason) => health.commandNeverStarted(reason),
  });
  const selfCheck = (): Promise<SelfCheckResult> =>
    runSelfCheck({
      startShell: (trackingId, command) => scheduler.startCheckShell(trackingId, command),
      usesPrelude: shells.usesPrelude,
      preludeFile: PRELUDE_FILE,
      expected: {
        user: commandUser?.name ?? os.userInfo().username,
        uid: commandUser?.uid ?? process.getuid?.() ?? -1,
        maxProcesses: config.commandMaxProcesses,
        maxMemoryKb: Math.floor(config.commandMaxMemory / 1024),
      },
    });
  const health = new Health({
    check: selfCheck,
    onChange: (state) => (state.ok ? logger.info('commands can run again: the self-check passed') : logger.error('commands cannot run', { error: state.error })),
  });
  const site: SiteContext = { fqdn: config.fqdn, maxWait: config.maxWait, outputViewBytes: config.outputViewBytes, cursor: cursorMaker() };
  const lockOut = new LockOut({ maxFailures: config.authMaxFailures, window: config.authWindow });
  const deps: AppDeps = {
    config,
    store,
    scheduler,
    keyring,
    signer,
    tokens,
    answers,
    auth: new Auth(keyring, signer, lockOut),
    logger,
    redactor,
    site,
    health,
    readme: documentReader(new URL('../README.md', import.meta.url)),
    contextDoc: documentReader(new URL('../CONTEXT.md', import.meta.url)),
  };

  // The arrival limits are checked every second, not every 30 s (Node's default).
  const server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: REQUEST_ARRIVAL_MS, headersTimeout: REQUEST_ARRIVAL_MS, connectionsCheckingInterval: 1000 }, (req, res) => {
    if (!sendKeptAnswer(deps, req, res)) void handle(deps, req, res);
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => answerClientError(error, socket));
  // Idle keep-alive sockets are closed after a while; a long-poll's answer may take MAX_WAIT.
  server.keepAliveTimeout = 5000;

  let releaseLock: (() => void) | undefined;
  // Finished tickets' background processes keep their cgroups; empty ones are removed.
  const sweeper = setInterval(() => tracking.sweep(), 60_000);
  sweeper.unref();

  return {
    server,
    async start() {
      releaseLock = acquireLock(privateDir, logger);
      await recoverTickets(store, tracking, config.maxOutputBytes, logger);
      tracking.sweep();
      // Nothing is served until one command has gone the whole way a command goes.
      const checked = await selfCheck();
      if (!checked.ok) {
        // Not serving: nothing of this server's is left in the cgroup tree either.
        tracking.close();
        throw new Error(describeFailure(checked));
      }
      if (config.socket !== null) {
        await listenOnSocket(server, config.socket);
        return { kind: 'socket', path: config.socket };
      }
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : config.port;
      // With PORT=0 and no FQDN, the default FQDN names the port actually bound.
      if (!config.fqdnConfigured) site.fqdn = `http://localhost:${port}`;
      return { kind: 'tcp', url: `http://${config.host}:${port}`, port };
    },
    fqdn: () => site.fqdn,
    reopenLogs: () => audit.reopen(),
    reloadKeys: () => {
      const problems = keyring.load();
      tokens.clear();
      answers.clear();
      redactor.setSecrets(keyring.secrets());
      for (const { line, problem } of problems) logger.warn('a line of KEYS_FILE is left out', { file: config.keysFile, line, problem });
      logger.info('keys loaded', { keys: keyring.names() });
    },
    async shutdown() {
      clearInterval(sweeper);
      health.close();
      await scheduler.shutdown(config.shutdownGrace);
      tracking.close();
      audit.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      releaseLock?.();
    },
  };
}

async function handle(deps: AppDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const startedAt = performance.now();
  const log: RequestContext['log'] = {};
  // Made only for a request that waits (a long-poll): most never need one.
  let abort: AbortController | undefined;
  res.on('close', () => {
    if (!res.writableFinished) abort?.abort();
    deps.logger.line(requestLine(requestLogHead(req.method, safePath(req.url), res.statusCode), performance.now() - startedAt, requestLogTail(log)));
  });
  // Every answer may carry the hash in its URLs or reveal what ran: nothing is cached.
  res.setHeader('Cache-Control', 'no-store');
  try {
    if ((req.url?.length ?? 0) > MAX_URL_BYTES) {
      throw new HttpError(414, `the URL is longer than ${MAX_URL_BYTES / 1024} KiB`, 'a command may be up to 128 KiB; for longer scripts write them to a file over several commands, or fetch them with curl');
    }
    const { pathname, rawQuery } = splitUrl(req);
    if (pathname === '/mcp') {
      // Loaded at the first MCP request: the SDK is large, and a smaller server forks faster.
      const { handleMcp } = await import('./reach/mcp.js');
      await handleMcp(deps, req, res, clientAddress(req, deps.config.trustProxy, deps.config.socket !== null), VERSION, log);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new HttpError(405, `method ${String(req.method).slice(0, 20)} is not allowed`, 'every LLMASS endpoint is a GET with its parameters in the query string', {
        Allow: 'GET, HEAD',
      });
    }
    const route = routes.get(pathname);
    if (route === undefined) {
      throw new HttpError(404, `there is no ${pathname.slice(0, 80)} here`, 'the endpoints are /context, /shell, /callback, /history, /cancel, /sessions, /view, /openapi.json and /mcp; GET /context for how to use them');
    }
    const query = parseQuery(rawQuery);
    const client = clientAddress(req, deps.config.trustProxy, deps.config.socket !== null);
    const credential = route.access === 'none' ? undefined : presentedCredential(req, query);
    const principal = route.access === 'none' ? undefined : deps.auth.check(client, credential);
    checkParams(pathname, query, route.params);
    // The target as received (and the header, if the credential came from it) names the answer.
    const answerKey = credential === undefined ? undefined : AnswerCache.requestKey(req.url ?? '', credential.source === 'header' ? req.headers.authorization : undefined);
    if (principal !== undefined) checkPermission(principal, route.access, pathname, query.get('session') || undefined);
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
        view ??= requestView(deps, principal);
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
    sendError(deps, req, res, error);
  }
}

/**
 * Answers a GET the answer cache holds the answer to, before any parsing: the same target (and
 * credential) was answered so a moment ago, for a ticket that can no longer change. False when
 * the cache holds none, or the client is locked out (the full path then says why).
 */
function sendKeptAnswer(deps: AppDeps, req: IncomingMessage, res: ServerResponse): boolean {
  const startedAt = performance.now();
  const target = req.url;
  if (req.method !== 'GET' || target === undefined) return false;
  let kept = deps.answers.get(target);
  if (kept === undefined) {
    const authorization = req.headers.authorization;
    if (authorization === undefined) return false;
    kept = deps.answers.get(AnswerCache.requestKey(target, authorization));
    if (kept === undefined) return false;
  }
  if (!deps.auth.admits(clientAddress(req, deps.config.trustProxy, deps.config.socket !== null))) return false;
  res.writeHead(200, kept.headers);
  res.end(kept.body);
  deps.logger.checkedLine(requestLine(kept.logHead, performance.now() - startedAt, kept.logTail));
  return true;
}

function sendError(deps: AppDeps, req: IncomingMessage, res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (error instanceof HttpError) {
    sendJson(req, res, error.status, { error: error.message, hint: error.hint }, { ...error.headers });
    return;
  }
  deps.logger.error('unexpected error', { path: safePath(req.url), error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  sendJson(req, res, 500, { error: 'internal error', hint: 'this is a bug in LLMASS, not in your request; try again, and tell the operator if it persists' });
}

/**
 * Listens on a unix socket, mode 0660: the server's user and group (the proxy's, given by the
 * setgid directory it lives in) may connect, nobody else. A socket left by a dead server is
 * replaced; one a live server answers on is not.
 */
async function listenOnSocket(server: http.Server, file: string): Promise<void> {
  let existing: fs.Stats | undefined;
  try {
    existing = fs.lstatSync(file);
  } catch {
    existing = undefined;
  }
  if (existing !== undefined) {
    if (!existing.isSocket()) throw new Error(`SOCKET ${file} exists and is not a socket; remove it or choose another path`);
    const answered = await new Promise<boolean>((resolve) => {
      const probe = net.connect(file, () => {
        probe.destroy();
        resolve(true);
      });
      probe.on('error', () => resolve(false));
    });
    if (answered) throw new Error(`another server is listening on SOCKET ${file}`);
    fs.rmSync(file);
  }
  // Made with no access for others from the first moment, then opened to the group.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path: file, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(umask);
  }
  fs.chmodSync(file, 0o660);
}

/**
 * Requests node:http refuses before any handler sees them (a head over MAX_HEADER_BYTES, a
 * malformed request, a head that never completes) still get a JSON answer with a hint.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, message, hint] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', `the request head is larger than ${MAX_HEADER_BYTES / 1024} KiB`, 'a command may be up to 128 KiB (URL-encoded, up to 384 KiB); send long scripts in several commands, and keep headers small']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'the request did not arrive in time', 'send the whole request at once']
        : [400, 'Bad Request', 'the request is not valid HTTP', 'send a GET request such as GET /context?hash=<HASH> HTTP/1.1'];
  const body = JSON.stringify({ error: message, hint }) + '\n';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Cache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
  );
}
