// Why a request is refused for who it is: no credential, a wrong one, a client locked out, or a
// credential used beyond what it opens. A domain error: the edge (http/domainErrors.ts) gives
// each kind its status (401, 401, 429, 403).

export type RefusalKind = 'missing' | 'wrong' | 'locked' | 'forbidden';

export class AuthRefused extends Error {
  constructor(
    readonly kind: RefusalKind,
    message: string,
    readonly hint: string,
    /** How long a locked-out client must wait, in seconds. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}
