// Sending answers: JSON, text and HTML with their lengths, and streams of JSON arrays and text
// for answers too large to build whole. Nothing here knows about tickets or sessions.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The security headers every HTML answer carries. */
export function htmlSecurityHeaders(csp: string): Record<string, string> {
  return {
    'Content-Security-Policy': csp,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  };
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
