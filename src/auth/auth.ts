// Who is asking: a key (HASH or a named key from KEYS_FILE, as `hash=` or `Authorization:
// Bearer`) or a token (`token=`, or Bearer), checked in constant time, with failures counted by
// the lock-out. The result is a Principal; what it may do on which route is decided in
// permissions below.
import type { IncomingMessage } from 'node:http';
import { HttpError, type Query } from '../http/respond.js';
import type { Keyring } from './keys.js';
import type { LockOut } from './lockout.js';
import { TOKEN_SHAPE, type Access, type TokenSigner } from './tokens.js';

export type Principal =
  | { readonly kind: 'key'; readonly key: string }
  | { readonly kind: 'token'; readonly key: string; readonly session: string; readonly access: Access; readonly expires: number };

/** A presented credential, and where it was: the query, or the Authorization header. */
export type Credential = { readonly kind: 'key' | 'token'; readonly value: string; readonly source: 'query' | 'header' };

/** The query parameters that carry a credential: every authenticated endpoint takes them. */
export const CREDENTIAL_PARAMS: readonly string[] = ['hash', 'token'];

/** The credential a request presents: `token=`, `hash=`, or the Authorization header. */
export function presentedCredential(req: IncomingMessage, q: Query): Credential | undefined {
  const token = q.get('token');
  if (token !== undefined && token !== '') return { kind: 'token', value: token, source: 'query' };
  const hash = q.get('hash');
  if (hash !== undefined && hash !== '') return { kind: 'key', value: hash, source: 'query' };
  const header = req.headers.authorization;
  const value = (header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header))?.[1];
  if (value === undefined) return undefined;
  return { kind: TOKEN_SHAPE.test(value) ? 'token' : 'key', value, source: 'header' };
}

/**
 * The socket address, or the last X-Forwarded-For entry (the one our proxy added) when the
 * request came from a trusted proxy: over the unix SOCKET, or from an address in TRUST_PROXY.
 */
export function clientAddress(req: IncomingMessage, trustProxy: readonly string[], onSocket: boolean): string {
  const peer = req.socket.remoteAddress;
  if (onSocket || (peer !== undefined && trustProxy.includes(peer))) {
    const header = req.headers['x-forwarded-for'];
    const value = Array.isArray(header) ? header.join(',') : header;
    const last = value?.split(',').map((part) => part.trim()).filter(Boolean).at(-1);
    if (last !== undefined) return last.slice(0, 100);
  }
  return peer ?? (onSocket ? 'unix-socket' : 'unknown');
}

const BACK_TO_CONTEXT = 'go back to the /context link the operator gave you (it holds your key); GET /sessions with your key gives fresh links';

export class Auth {
  constructor(
    private readonly keyring: Keyring,
    private readonly signer: TokenSigner,
    private readonly lockOut: LockOut,
  ) {}

  /** Whether `client` may present a credential at all (it is not locked out). */
  admits(client: string): boolean {
    return !this.lockOut.isLocked(client);
  }

  /** Throws 429 for a locked-out client, 401 for a missing, wrong, expired or revoked credential. */
  check(client: string, credential: Credential | undefined): Principal {
    this.lockOut.assertOpen(client);
    if (credential === undefined) {
      throw new HttpError(401, 'the key is missing', 'add &hash=<your key> to the URL, or send the header Authorization: Bearer <your key>');
    }
    if (credential.kind === 'key') {
      const key = this.keyring.match(credential.value);
      if (key !== undefined) return { kind: 'key', key };
      this.lockOut.recordFailure(client);
      throw new HttpError(401, 'the key is wrong', 'use the key from the URL the operator gave you (the hash= part of the /context link)');
    }
    const verified = this.signer.verify(credential.value);
    if (verified.ok) return { kind: 'token', ...verified.token };
    this.lockOut.recordFailure(client);
    const said = {
      malformed: 'the token is not one this server hands out',
      forged: 'the token is not valid',
      expired: 'the token has expired',
      revoked: 'the key that made this token was removed or changed',
    }[verified.problem];
    throw new HttpError(401, said, `use URLs exactly as answers give them; ${BACK_TO_CONTEXT}`);
  }
}

/** What a route lets a principal do: `key` routes need a key, `read` ones take any token of the session. */
export type RouteAccess = 'none' | 'key' | 'exec' | 'read';

/** Throws 403 when a token is used beyond what it opens. */
export function checkPermission(principal: Principal, route: RouteAccess, path: string, session: string | undefined): void {
  if (principal.kind === 'key' || route === 'none') return;
  if (route === 'key') {
    throw new HttpError(403, `a token opens one session; ${path} needs a key`, BACK_TO_CONTEXT);
  }
  if (principal.access === 'read' && route === 'exec') {
    throw new HttpError(403, `this is a read-only link: it shows session ${principal.session} but cannot run or cancel commands`, 'ask whoever gave you the link for a key, or only watch the session');
  }
  if (session !== principal.session) {
    throw new HttpError(403, `this token is for session ${principal.session}${session === undefined ? '' : `, not ${session}`}`, `add &session=${principal.session}, or use the URLs of that session's answers`);
  }
}
