// What a request presents and where it comes from: its credential (`token=`, `hash=`, or the
// Authorization header) and the client's address (through a trusted proxy, the address the
// proxy saw). Auth (auth/) decides what the credential is worth; this only reads the request.
import type { IncomingMessage } from 'node:http';
import type { Credential } from '../auth/auth.js';
import { TOKEN_SHAPE } from '../auth/tokens.js';
import type { Query } from './query.js';

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
