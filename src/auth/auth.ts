// Who is asking: a key (HASH or a named key from KEYS_FILE, as `hash=` or `Authorization:
// Bearer`) or a token (`token=`, or Bearer), checked in constant time, with failures counted by
// the lock-out. The result is a Principal; what it may do on which route is decided in
// permissions below.
import type { Keyring } from './keys.js';
import type { LockOut } from './lockout.js';
import { AuthRefused } from './refusals.js';
import type { Access, TokenSigner } from './tokens.js';

export type Principal =
  | { readonly kind: 'key'; readonly key: string }
  | { readonly kind: 'token'; readonly key: string; readonly session: string; readonly access: Access; readonly expires: number; readonly ticket?: number };

/** A presented credential, and where it was: the query, or the Authorization header. */
export type Credential = { readonly kind: 'key' | 'token'; readonly value: string; readonly source: 'query' | 'header' };

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

  /** Refuses (AuthRefused) a locked-out client, and a missing, wrong, expired or revoked credential. */
  check(client: string, credential: Credential | undefined): Principal {
    this.lockOut.assertOpen(client);
    if (credential === undefined) {
      throw new AuthRefused('missing', 'the key is missing', 'add &hash=<your key> to the URL, or send the header Authorization: Bearer <your key>');
    }
    if (credential.kind === 'key') {
      const key = this.keyring.match(credential.value);
      if (key !== undefined) return { kind: 'key', key };
      this.lockOut.recordFailure(client);
      throw new AuthRefused('wrong', 'the key is wrong', 'use the key from the URL the operator gave you (the hash= part of the /context link)');
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
    throw new AuthRefused('wrong', said, `use URLs exactly as answers give them; ${BACK_TO_CONTEXT}`);
  }
}

/** What a route lets a principal do: `key` routes need a key, `read` ones take any token of the session. */
export type RouteAccess = 'none' | 'key' | 'operator' | 'exec' | 'read' | 'approve';

/** Refuses (AuthRefused, forbidden) a token used beyond what it opens. */
export function checkPermission(principal: Principal, route: RouteAccess, path: string, session: string | undefined, ticket?: string): void {
  if (route === 'none') return;
  if (route === 'approve') {
    if (principal.kind === 'key' && principal.key === 'HASH') return;
    const link = principal.kind === 'token' && principal.access === 'approve';
    if (link && principal.session === session && String(principal.ticket) === ticket) return;
    throw new AuthRefused(
      'forbidden',
      link ? `this approval link is for ticket ${principal.ticket ?? '?'} of session ${principal.session}` : `${path} decides a pending command: it takes the operator's key (HASH) or an approval link`,
      link ? 'use the link exactly as it was sent' : 'an agent cannot approve its own commands; the operator decides them from /sessions, /view or the approval webhook\'s links',
    );
  }
  if (principal.kind === 'token' && principal.access === 'approve') {
    throw new AuthRefused('forbidden', `an approval link opens only /approve and /deny of its ticket, not ${path}`, 'use the key or the links the operator gave you');
  }
  if (route === 'operator' && (principal.kind !== 'key' || principal.key !== 'HASH')) {
    throw new AuthRefused('forbidden', `${path} is the operator's: it needs the key HASH`, 'ask the operator; agents\' keys and tokens do not open it');
  }
  if (principal.kind === 'key') return;
  if (route === 'key') {
    throw new AuthRefused('forbidden', `a token opens one session; ${path} needs a key`, BACK_TO_CONTEXT);
  }
  if (principal.access === 'read' && route === 'exec') {
    throw new AuthRefused('forbidden', `this is a read-only link: it shows session ${principal.session} but cannot run or cancel commands`, 'ask whoever gave you the link for a key, or only watch the session');
  }
  if (session !== principal.session) {
    throw new AuthRefused('forbidden', `this token is for session ${principal.session}${session === undefined ? '' : `, not ${session}`}`, `add &session=${principal.session}, or use the URLs of that session's answers`);
  }
}
