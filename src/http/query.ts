// The request target: its path and its query string, each name and value decoded exactly once.
// Nothing here knows about tickets or sessions: handlers turn parameters into typed values with
// params.ts.
import type { IncomingMessage } from 'node:http';
import { HttpError } from './httpError.js';

export type Query = ReadonlyMap<string, string>;

function decodeComponent(raw: string, name: string): string {
  try {
    // Form semantics: a bare '+' is a space. decodeURIComponent throws on a malformed '%'
    // sequence and on bytes that are not UTF-8, which we answer with a 400 rather than guess.
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    throw new HttpError(
      400,
      `parameter "${name}" is not valid percent-encoded UTF-8`,
      'encode every byte that is not a letter or digit as %XX (a literal % is %25, a literal + is %2B), or send the command base64url-encoded as cmd64=',
    );
  }
}

/**
 * Parses a raw query string, decoding each name and value exactly once. A parameter given
 * twice is refused: the server must never guess which of two commands was meant.
 */
export function parseQuery(rawQuery: string): Query {
  const params = new Map<string, string>();
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawName = eq === -1 ? part : part.slice(0, eq);
    const rawValue = eq === -1 ? '' : part.slice(eq + 1);
    const name = decodeComponent(rawName, rawName.slice(0, 40));
    const value = decodeComponent(rawValue, name);
    if (params.has(name)) {
      throw new HttpError(400, `parameter "${name.slice(0, 40)}" is given more than once`, 'give each parameter once');
    }
    params.set(name, value);
  }
  return params;
}

/** The path and raw query of a request; a URL that is not a path is a 400. */
export function splitUrl(req: IncomingMessage): { pathname: string; rawQuery: string } {
  const url = req.url ?? '/';
  if (!url.startsWith('/')) {
    throw new HttpError(400, 'the request target must be a path such as /shell', 'request a path on this server, e.g. /context');
  }
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const rawQuery = q === -1 ? '' : url.slice(q + 1);
  let pathname: string;
  try {
    pathname = decodeURIComponent(rawPath);
  } catch {
    throw new HttpError(400, 'the path is not valid percent-encoded UTF-8', 'request one of /, /context, /shell, /callback, /history');
  }
  // A trailing slash is forgiven (/shell/ is /shell), the root stays '/'.
  if (pathname.length > 1) pathname = pathname.replace(/\/+$/, '');
  return { pathname, rawQuery };
}
