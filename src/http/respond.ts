// Response helpers, HttpError, and the one query-string parser. Nothing here knows about
// tickets or sessions: handlers turn parameters into typed values with params.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An error that is an answer: one place (app.ts) turns it into `{error, hint}` JSON. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly hint: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export type Query = ReadonlyMap<string, string>;

/** The security headers every HTML answer carries. */
export function htmlSecurityHeaders(csp: string): Record<string, string> {
  return {
    'Content-Security-Policy': csp,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  };
}

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

const SMALL_BODY_CHARS = 64 * 1024;

function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: Record<string, string>,
): void {
  // A small body goes as a string: node:http then sends head and body in one write() rather
  // than a two-part writev, the largest cost of a read in the profile. A large one is encoded
  // once into a Buffer instead of being measured and then encoded again.
  const payload = body.length <= SMALL_BODY_CHARS ? body : Buffer.from(body, 'utf8');
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': String(typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.length),
    ...headers,
  });
  res.end(req.method === 'HEAD' ? undefined : payload);
}

export function sendJson(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  send(req, res, status, 'application/json; charset=utf-8', JSON.stringify(body) + '\n', headers);
}

/** A JSON answer already serialized (a cached one). */
export function sendJsonText(req: IncomingMessage, res: ServerResponse, status: number, body: string): void {
  send(req, res, status, 'application/json; charset=utf-8', body, {});
}

export function sendText(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
  contentType = 'text/plain; charset=utf-8',
): void {
  send(req, res, status, contentType, body, headers);
}

export function sendHtml(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: string,
  csp: string,
  headers: Record<string, string> = {},
): void {
  send(req, res, status, 'text/html; charset=utf-8', body, { ...htmlSecurityHeaders(csp), ...headers });
}

/**
 * A JSON array sent element by element (chunked), for answers too large to build whole: the
 * client reads the first elements while later ones are still being made, and memory holds
 * one batch, not the whole answer. Resolves once written, or early if the client went away.
 */
export function sendJsonArray(req: IncomingMessage, res: ServerResponse, batches: AsyncIterable<readonly unknown[]>): Promise<void> {
  return sendTextStream(req, res, jsonArrayText(batches), 'application/json; charset=utf-8');
}

async function* jsonArrayText(batches: AsyncIterable<readonly unknown[]>): AsyncGenerator<string> {
  let first = true;
  for await (const batch of batches) {
    if (batch.length === 0) continue;
    yield (first ? '[' : ',') + batch.map((item) => JSON.stringify(item)).join(',');
    first = false;
  }
  yield first ? '[]\n' : ']\n';
}

/** A text answer sent chunk by chunk, for transcripts too large to build whole. */
export async function sendTextStream(
  req: IncomingMessage,
  res: ServerResponse,
  chunks: AsyncIterable<string>,
  contentType = 'text/plain; charset=utf-8',
  headers: Record<string, string> = {},
): Promise<void> {
  const iterator = chunks[Symbol.asyncIterator]();
  // The first chunk is made before the status line: a failure there is still a proper error answer.
  let next = await iterator.next();
  res.writeHead(200, { 'Content-Type': contentType, ...headers });
  if (req.method === 'HEAD') {
    await iterator.return?.();
    res.end();
    return;
  }
  for (; next.done !== true; next = await iterator.next()) {
    if (!(await writeChunk(res, next.value))) {
      await iterator.return?.();
      return;
    }
  }
  res.end();
}

/** Writes `chunk`, waiting for the socket to drain when it is full; false if the client left. */
async function writeChunk(res: ServerResponse, chunk: string): Promise<boolean> {
  if (res.destroyed) return false;
  if (res.write(chunk)) return true;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
  return !res.destroyed;
}
