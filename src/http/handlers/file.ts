// GET /file: a file of the host, streamed, as the session's command user reads it (never the
// server): the whole file, or a part (Range, or offset and limit: 206 with Content-Range), with
// an ETag; format=text gives it as UTF-8 text. It goes behind the session's commands, and is
// written to the audit log with its size and sha256 once sent.
import crypto from 'node:crypto';
import { Transform } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ReadOutcome } from '../../running/fileHelpers.js';
import { fileRefused } from '../domainErrors.js';
import { optionalByteRange, requirePath, type ByteRange } from '../fileParams.js';
import { HttpError } from '../httpError.js';
import { optionalFormat } from '../params.js';
import { requireOwnSessionParam } from './lookups.js';
import type { Handler } from '../requestContext.js';
import { auditTransfer, behindSessionCommands } from './transfer.js';

type Opened = Extract<ReadOutcome, { kind: 'ok' }>;

/** The bytes an answer sends: [start, start + length) of the file. */
function partOf(range: ByteRange | undefined, size: number): { start: number; length: number } {
  if (range === undefined) return { start: 0, length: size };
  if (range.kind === 'suffix') {
    const length = Math.min(range.count, size);
    return { start: size - length, length };
  }
  if (range.offset >= size && (size > 0 || range.offset > 0)) {
    throw new HttpError(416, `offset ${range.offset} is beyond the file (${size} bytes)`, size === 0 ? 'the file is empty' : `ask for bytes 0 to ${size - 1}`, { 'Content-Range': `bytes */${size}` });
  }
  return { start: range.offset, length: Math.min(range.count ?? size, size - range.offset) };
}

function etagOf(opened: Opened): string {
  return `"${opened.size.toString(16)}-${opened.mtime.toString(16)}-${opened.inode.toString(16)}"`;
}

export const file: Handler = async (ctx) => {
  const { req, res, query, deps } = ctx;
  const session = await requireOwnSessionParam(ctx, query);
  const target = requirePath(query);
  const range = optionalByteRange(req, query);
  const asText = optionalFormat(query, ['bytes', 'text'] as const) === 'text';
  await behindSessionCommands(ctx, session);
  const part = range === undefined ? { offset: 0, count: null } : range.kind === 'suffix' ? { suffix: range.count } : range;
  const opened = await deps.files.read(deps.scheduler.userOf(session), deps.scheduler.cwdOf(session), target, part);
  if (opened.kind !== 'ok') throw fileRefused(opened.kind, target, false);
  let sending: { start: number; length: number };
  try {
    sending = partOf(range, opened.size);
  } catch (error) {
    opened.end();
    throw error;
  }
  const etag = etagOf(opened);
  const headers: Record<string, string> = { ETag: etag, 'Accept-Ranges': 'bytes', 'Content-Type': asText ? 'text/plain; charset=utf-8' : 'application/octet-stream' };
  // Text is decoded (invalid bytes become U+FFFD), so its length is known only once sent.
  if (!asText) headers['Content-Length'] = String(sending.length);
  if (range !== undefined) headers['Content-Range'] = `bytes ${sending.start}-${sending.start + sending.length - 1}/${opened.size}`;
  if (req.headers['if-none-match'] === etag && range === undefined) {
    opened.end();
    res.writeHead(304, { ETag: etag });
    res.end();
    return;
  }
  res.writeHead(range === undefined ? 200 : 206, headers);
  if (req.method === 'HEAD') {
    opened.end();
    res.end();
    return;
  }
  const hash = crypto.createHash('sha256');
  let sent = 0;
  const decoder = new TextDecoder('utf-8');
  const encode = (chunk: Buffer, last: boolean): Buffer | string => (asText ? decoder.decode(chunk, { stream: !last }) : chunk);
  // The last chunk is held back until the audit line is written: whoever has the whole file
  // finds its line. A file that shrank (or grew) while it was read is not the part the headers
  // announced: its last chunk is never sent, and the cut connection tells the client so.
  let held: Buffer | undefined;
  let complete = false;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sent += chunk.length;
      hash.update(chunk);
      const previous = held;
      held = chunk;
      done(null, previous === undefined ? undefined : encode(previous, false));
    },
    flush(done) {
      complete = asText || sent === sending.length;
      if (!complete) {
        done();
        return;
      }
      auditTransfer(ctx, 'file_read', session, target, sent, hash.digest('hex'));
      done(null, held === undefined ? (asText ? decoder.decode() : undefined) : encode(held, true));
    },
  });
  // A client that goes away ends the read.
  res.once('close', () => opened.end());
  opened.bytes.pipe(counted).pipe(res, { end: false });
  try {
    await finished(counted);
  } catch {
    res.destroy();
    return;
  }
  if (complete) res.end();
  else res.destroy();
};
