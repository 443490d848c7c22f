// Wires the parts together: createApp(config) builds the store, scheduler, auth and audit log,
// and a node:http server whose every request goes through the one pipeline (http/pipeline.ts)
// over the route table (routes.ts). All state lives in here.
import http from 'node:http';
import path from 'node:path';
import os from 'node:os';
import { customAlphabet } from 'nanoid';
import { AuditLog } from './logging/audit.js';
import { Auth } from './auth/auth.js';
import type { Keyring } from './auth/keys.js';
import { LockOut } from './auth/lockout.js';
import { TOKEN_IN_TEXT, TokenCache, TokenSigner } from './auth/tokens.js';
import type { Config } from './config/config.js';
import type { AppDeps } from './http/requestContext.js';
import type { Logger } from './logging/logger.js';
import { acquireLock, recoverTickets } from './scheduling/recovery.js';
import { documentReader } from './answers/html.js';
import { routes } from './routes.js';
import { cursorMaker } from './answers/links.js';
import type { SiteContext } from './answers/viewContext.js';
import { AnswerCache } from './http/keptAnswers.js';
import { answerClientError, MAX_HEADER_BYTES } from './http/clientErrors.js';
import { inject, type InjectedAnswer, type InjectedRequest } from './http/inject.js';
import { listenOnPort, listenOnSocket } from './http/listen.js';
import { requestPipeline } from './http/pipeline.js';
import type { Redactor } from './logging/redact.js';
import { Scheduler } from './scheduling/scheduler.js';
import { SessionLayout } from './storage/sessionLayout.js';
import { firstEnvironment, type CommandUser } from './running/commandUser.js';
import type { CommandUsers } from './running/commandUsers.js';
import { SessionOwners } from './storage/sessionOwners.js';
import { PRELUDE_FILE } from './running/prelude.js';
import { ProcessTracking } from './running/processTracking.js';
import { TicketLimits } from './running/ticketLimits.js';
import { Health } from './scheduling/health.js';
import { describeFailure, runSelfCheck, type SelfCheckResult } from './running/selfCheck.js';
import { ShellStates } from './running/shellState.js';
import { TicketStore } from './storage/ticketStore.js';
import { Uploads } from './storage/uploads.js';
import { Metrics } from './logging/metrics.js';
import { FileHelpers } from './running/fileHelpers.js';
import { notifyWebhook } from './http/approvalWebhook.js';
import { approvalLinks } from './http/approvalLinks.js';

/** The key of a session's first readable ticket: the owner of a session older than owner files. */
async function firstTicketKey(store: TicketStore, session: string): Promise<string | undefined> {
  for (const ticket of await store.ticketNumbers(session)) {
    const found = await store.read(session, ticket, { kind: 'window', offset: 0, limit: 1 }).catch(() => undefined);
    if (found !== undefined) return found.meta.key ?? undefined;
  }
  return undefined;
}

/** New session names: letters and digits only, so they always match the session rule. */
const newSessionName = customAlphabet('0123456789abcdefghijklmnopqrstuvwxyz', 12);

/** Where the server listens: a TCP address, or a unix socket. */
export type Listening = { readonly kind: 'tcp'; readonly url: string; readonly port: number } | { readonly kind: 'socket'; readonly path: string };

export interface App {
  readonly server: http.Server;
  /** Takes the lock, recovers unfinished tickets, and runs the self-check: what start() does before it listens. */
  prepare(): Promise<void>;
  /** prepare(), then listens. Resolves with where it listens. */
  start(): Promise<Listening>;
  /** One command the whole way a command goes (llmass check, and the start): what it found. */
  selfCheck(): Promise<SelfCheckResult>;
  /** The in-process seam: one request through the real server and pipeline, without a socket. */
  inject(request: InjectedRequest): Promise<InjectedAnswer>;
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
 * How long a request may take to arrive, head and body (an MCP POST): a slow client cannot hold
 * a connection open for ever. A long-poll is not affected: its request has arrived; only its
 * answer waits.
 */
export const REQUEST_ARRIVAL_MS = 15_000;

/** A record holds at most MAX_OUTPUT_BYTES of output (up to 6 bytes each once JSON-escaped) and a 128 KiB command. */
function maxRecordBytes(config: Config): number {
  return (config.maxOutputBytes + 64 * 1024) * 6 + 2 * 1024 * 1024;
}

export function createApp(config: Config, logger: Logger, redactor: Redactor, keyring: Keyring, users: CommandUsers): App {
  const commandUser = users.fallback;
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
  const owners = new SessionOwners(layout, (session) => firstTicketKey(store, session), (session, problem) =>
    logger.warn('a session\'s owner file is damaged: only the operator\'s key opens the session', { session, problem }),
  );
  // Each session's commands run as its owner's user: a confined user starts in its own home.
  const workdirOf = (user: CommandUser | null): string => (user !== null && !config.workdirConfigured ? user.home : config.workdir);
  const environments = new Map<string, Record<string, string>>();
  const environmentOf = (user: CommandUser | null): Record<string, string> => {
    const name = user?.name ?? '';
    const known = environments.get(name) ?? firstEnvironment(process.env, user, config.commandShell);
    environments.set(name, known);
    return known;
  };
  const userOf = (session: string): CommandUser | null => scheduler.userOf(session);
  const shells = new ShellStates(layout, config.commandShell, PRELUDE_FILE, workdirOf, environmentOf, userOf, {
    maxProcesses: config.commandMaxProcesses,
    maxMemoryBytes: config.commandMaxMemory,
  }, onError);
  const tracking = ProcessTracking.detect(ProcessTracking.scopeOf(config.sessionsDir), (why) => logger.info('processes are tracked by an environment marker, not a cgroup', { why }));
  const scheduler = new Scheduler({
    config,
    tracking,
    users,
    owners,
    store,
    shells,
    audit,
    redactor,
    newSessionName,
    onError,
    // Called only once tickets run, after `health` and `metrics` are made below.
    onTicketEnded: (record) => metrics.ticketEnded(record.status, record.duration_ms),
    onNeverStarted: (reason) => health.commandNeverStarted(reason),
    // Rare (a finished ticket's leftovers ended): every kept answer goes, not just that ticket's.
    onRecordChanged: () => answers.clear(),
    onPending: (record) => {
      const webhook = config.approvalWebhook;
      if (webhook !== null) void notifyWebhook(webhook, record, approvalLinks({ signer, config, site }, record.session, record.ticket), logger);
    },
  });
  const selfCheck = (): Promise<SelfCheckResult> =>
    runSelfCheck({
      startShell: (trackingId, command) => scheduler.next.startCheckShell(trackingId, command),
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
  const site: SiteContext = { fqdn: config.fqdn, maxWait: config.maxWait, outputViewBytes: config.outputViewBytes, approvalTimeout: config.approvalTimeout, cursor: cursorMaker() };
  const metrics = new Metrics({
    running: () => scheduler.runningCount,
    queued: () => scheduler.waitingCount,
    readyShells: () => scheduler.next.warm.size,
    readyShellCounts: () => scheduler.next.warm.counts,
    spawnerStarts: () => scheduler.next.spawner.starts,
    sessions: async () => (await store.listSessions()).length,
  });
  const lockOut = new LockOut({ maxFailures: config.authMaxFailures, window: config.authWindow, onFailure: (lockedOut) => metrics.authFailed(lockedOut) });
  const uploads = new Uploads(path.join(privateDir, 'uploads'), config.maxUploadBytes);
  const deps: AppDeps = {
    config,
    store,
    scheduler,
    owners,
    files: new FileHelpers(),
    metrics,
    uploads,
    audit,
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
  const server = http.createServer(
    { maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: REQUEST_ARRIVAL_MS, headersTimeout: REQUEST_ARRIVAL_MS, connectionsCheckingInterval: 1000 },
    requestPipeline(deps, routes),
  );
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => answerClientError(error, socket));
  // Idle keep-alive sockets are closed after a while; a long-poll's answer may take MAX_WAIT.
  server.keepAliveTimeout = 5000;

  let releaseLock: (() => void) | undefined;
  // Finished tickets' background processes keep their cgroups; empty ones are removed. Uploads
  // left unfinished for an hour are dropped.
  const sweeper = setInterval(() => {
    tracking.sweep();
    uploads.sweep();
  }, 60_000);
  sweeper.unref();

  const prepare = async (): Promise<void> => {
    releaseLock = acquireLock(privateDir, logger);
    uploads.reset();
    await recoverTickets(store, tracking, config.maxOutputBytes, logger);
    const { limits, missing } = TicketLimits.detect(ProcessTracking.scopeOf(config.sessionsDir), { maxProcesses: config.commandMaxProcesses, maxMemoryBytes: config.commandMaxMemory });
    tracking.useLimits(limits);
    if (limits.controllers.length > 0) logger.info('per-ticket limits through cgroups', { controllers: limits.controllers, pids_max: config.commandMaxProcesses, memory_bytes: config.commandMaxMemory });
    if (missing.length > 0) {
      logger.info('some per-ticket cgroup limits are not set: COMMAND_MAX_PROCESSES (per user) and COMMAND_MAX_MEMORY (per process) hold there', { missing, cgroup_v2_controllers: tracking.controllers().join(' ') || 'none' });
    }
    tracking.sweep();
    // Nothing is served until one command has gone the whole way a command goes.
    const checked = await selfCheck();
    if (!checked.ok) {
      // Not serving: nothing of this server's is left in the cgroup tree either.
      tracking.close();
      throw new Error(describeFailure(checked));
    }
  };

  return {
    server,
    prepare,
    selfCheck,
    async start() {
      await prepare();
      if (config.socket !== null) {
        await listenOnSocket(server, config.socket);
        return { kind: 'socket', path: config.socket };
      }
      const port = await listenOnPort(server, config.host, config.port);
      // With PORT=0 and no FQDN, the default FQDN names the port actually bound.
      if (!config.fqdnConfigured) site.fqdn = `http://localhost:${port}`;
      return { kind: 'tcp', url: `http://${config.host}:${port}`, port };
    },
    inject: (request) => inject(server, request),
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
