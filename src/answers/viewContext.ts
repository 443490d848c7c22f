// What answers know of the server and of who asks: the site (its public address and limits) and
// a request's view of it (the credential its ready URLs carry, and the front that reads them).
import type { Access } from '../auth/tokens.js';

/**
 * Who reads an answer, and so in whose words its next steps are put: an agent fetching JSON
 * (`get`), a text-only fetch tool (`text`, format=text), or an MCP client calling tools (`mcp`).
 */
export type Front = 'get' | 'text' | 'mcp';

/** What answers need to know of the server, whoever asks. */
export interface SiteContext {
  fqdn: string;
  readonly maxWait: number;
  readonly outputViewBytes: number;
  /** APPROVAL_TIMEOUT, which a pending ticket's next names. */
  readonly approvalTimeout: number;
  /** A value that differs on every call: the cursor that makes each poll URL new. */
  readonly cursor: () => string;
}

/** A request's view of the site: with the credential its ready URLs carry (never a key). */
export interface ViewContext extends SiteContext {
  /** `token=…` for a URL into `session`: exec unless `read` is asked for (or all the asker has). */
  readonly credential: (session: string, access?: Access) => string;
  /** Who reads the answer; `get` when not said. */
  readonly front?: Front;
}
