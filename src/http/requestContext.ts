// What a handler gets: the request, its parsed query, and the app's parts. Built once per
// request in app.ts; handlers stay thin and call the store or the scheduler.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AnswerCache } from './keptAnswers.js';
import type { Auth, Principal } from '../auth/auth.js';
import type { Keyring } from '../auth/keys.js';
import type { TokenCache, TokenSigner } from '../auth/tokens.js';
import type { Config } from '../config/config.js';
import type { Health } from '../scheduling/health.js';
import type { Query } from './query.js';
import type { Logger } from '../logging/logger.js';
import type { Redactor } from '../logging/redact.js';
import type { RequestLogFields } from '../logging/requestLine.js';
import type { Scheduler } from '../scheduling/scheduler.js';
import type { TicketStore } from '../storage/ticketStore.js';
import type { SessionOwners } from '../storage/sessionOwners.js';
import type { FileHelpers } from '../running/fileHelpers.js';
import type { Uploads } from '../storage/uploads.js';
import type { AuditLog } from '../logging/audit.js';
import type { Metrics } from '../logging/metrics.js';
import type { SiteContext, ViewContext } from '../answers/viewContext.js';

export interface AppDeps {
  readonly config: Config;
  readonly store: TicketStore;
  /** Whose each session is (lookups.ts requireOwnSession). */
  readonly owners: SessionOwners;
  readonly scheduler: Scheduler;
  /** The command user's hands on the host's files (/file, /upload). */
  readonly files: FileHelpers;
  /** Uploads on their way in. */
  readonly uploads: Uploads;
  readonly audit: AuditLog;
  readonly metrics: Metrics;
  readonly auth: Auth;
  readonly keyring: Keyring;
  readonly signer: TokenSigner;
  readonly tokens: TokenCache;
  /** Answers of finished tickets, ready to send again to the same request. */
  readonly answers: AnswerCache;
  readonly logger: Logger;
  readonly redactor: Redactor;
  readonly site: SiteContext;
  /** Whether commands can run (/healthz). */
  readonly health: Health;
  readonly readme: () => string | undefined;
  readonly contextDoc: () => string | undefined;
}

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly query: Query;
  readonly client: string;
  readonly deps: AppDeps;
  /** Who asks; undefined on routes that need no credential (/, /healthz). */
  readonly principal: Principal | undefined;
  /** The key the request presented, if it presented a key (not a token). */
  readonly presentedKey: string | undefined;
  /** Under which key this request's answer may be kept (AnswerCache); undefined without a credential. */
  readonly answerKey: string | undefined;
  /** The site as this request's answers show it, ready URLs with tokens for the asker. */
  readonly view: ViewContext;
  /** Aborts when the client goes away, so a long-poll stops waiting for nobody. */
  readonly signal: AbortSignal;
  /** Fields for this request's log line. */
  readonly log: RequestLogFields;
}

export type Handler = (ctx: RequestContext) => Promise<void>;

/**
 * What an answer needs of its request: everything but the HTTP exchange itself, so that the
 * GET handlers and the MCP tools (mcp.ts) give the same answers through the same code.
 */
export type AnswerContext = Omit<RequestContext, 'req' | 'res' | 'query' | 'answerKey'> & {
  /** The longest wait this front holds an answer (MCP's is below its clients' limits); default MAX_WAIT. */
  readonly maxWait?: number;
};

/** An answer: the JSON view, and its plain-text rendering (format=text, and MCP's text part). */
export interface Answer<T> {
  readonly json: T;
  /**
   * The answer as text, rendered only when asked for (most go out as JSON); of `view` when
   * given: MCP renders its lean view, without ready URLs.
   */
  text(view?: T): string;
}
