// Requests node:http refuses before the pipeline sees them (a head over MAX_HEADER_BYTES, a
// malformed request, a head that never completes) still get a JSON answer with a hint.
import type { Duplex } from 'node:stream';

/**
 * node:http's limit on a request's head. A 128 KiB command is up to 384 KiB once URL-encoded;
 * this leaves room for the rest of the URL and the headers. Larger heads get a JSON 431.
 */
export const MAX_HEADER_BYTES = 512 * 1024;

/**
 * Requests node:http refuses before any handler sees them (a head over MAX_HEADER_BYTES, a
 * malformed request, a head that never completes) still get a JSON answer with a hint.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, message, hint] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', `the request head is larger than ${MAX_HEADER_BYTES / 1024} KiB`, 'a command may be up to 128 KiB (URL-encoded, up to 384 KiB); send long scripts in several commands, and keep headers small']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'the request did not arrive in time', 'send the whole request at once']
        : [400, 'Bad Request', 'the request is not valid HTTP', 'send a GET request such as GET /context?hash=<HASH> HTTP/1.1'];
  const body = JSON.stringify({ error: message, hint }) + '\n';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Cache-Control: no-store\r\nConnection: close\r\n\r\n${body}`,
  );
}
