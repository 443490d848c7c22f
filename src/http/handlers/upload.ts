// /upload: a file onto the host. GET in chunks (data64 at offset; a re-fetched chunk is never
// appended twice), done=1 (with an optional sha256) puts it in place; PUT with the whole body does
// the same in one request. The bytes wait in the server's private upload spool until the end;
// then the command user's writer puts the file in place atomically (temp file, rename), behind
// the session's commands, and the audit log says so.
import type { IncomingMessage } from 'node:http';
import fs from 'node:fs';
import { Uploads, type UploadState } from '../../storage/uploads.js';
import { fileRefused } from '../domainErrors.js';
import { optionalChunk, optionalFlag, optionalMode, optionalSha256, requirePath } from '../fileParams.js';
import { HttpError } from '../httpError.js';
import { optionalWhole } from '../params.js';
import { requireOwnSessionParam } from './lookups.js';
import type { Query } from '../query.js';
import type { Answer, AnswerContext, Handler } from '../requestContext.js';
import { sendJson } from '../respond.js';
import { auditTransfer, behindSessionCommands } from './transfer.js';

export interface UploadAnswer {
  type: 'upload';
  session: string;
  path: string;
  /** Bytes received so far (all of them once done). */
  bytes: number;
  /** sha256 (hex) of the bytes received. */
  sha256: string;
  done: boolean;
  next: string;
}

function answerOf(session: string, path: string, state: UploadState): UploadAnswer {
  const next = state.done
    ? `Done: ${state.bytes} bytes are in place at ${path}, sha256 ${state.sha256}.`
    : `Received ${state.bytes} bytes. Send the next chunk with offset=${state.bytes}, or done=1 with offset=${state.bytes} (and sha256=) to put the file in place.`;
  return { type: 'upload', session, path, bytes: state.bytes, sha256: state.sha256, done: state.done, next };
}

/** Puts what was received of `id` in place as the command user, once `sha256` (if given) matches. */
async function putInPlace(ctx: AnswerContext, id: string, session: string, target: string, mode: string, sha256: string | undefined): Promise<UploadState> {
  const { uploads } = ctx.deps;
  const received = uploads.received(id);
  if (received === undefined) throw new HttpError(409, 'nothing of this upload was received', 'start with offset=0');
  if (sha256 !== undefined && sha256 !== received.state.sha256) {
    uploads.drop(id);
    throw new HttpError(422, `the file received has sha256 ${received.state.sha256}, not ${sha256}`, 'nothing was put in place and the upload is dropped: send it again from offset=0');
  }
  await behindSessionCommands(ctx, session);
  const written = await ctx.deps.files.write(ctx.deps.scheduler.userOf(session), ctx.deps.scheduler.cwdOf(session), target, mode, fs.createReadStream(received.file), received.state.bytes);
  if (written.kind !== 'ok') throw fileRefused(written.kind, target, true);
  if (written.bytes !== received.state.bytes) throw new HttpError(507, `${target} was written with ${written.bytes} of ${received.state.bytes} bytes`, 'free space on the host, then send done=1 again: the upload so far is kept');
  const state = uploads.complete(id) ?? received.state;
  auditTransfer(ctx, 'file_written', session, target, state.bytes, state.sha256);
  return state;
}

/** One GET /upload: a chunk, and with done=1 the end (for MCP's write_file too). */
export async function uploadAnswer(ctx: AnswerContext, query: Query): Promise<Answer<UploadAnswer>> {
  const session = await requireOwnSessionParam(ctx, query);
  const target = requirePath(query);
  const offset = optionalWhole(query, 'offset', 'offset is the number of bytes received so far: 0 for the first chunk');
  if (offset === undefined) throw new HttpError(400, 'offset is missing', 'add &offset=0 for the first chunk, then the bytes received so far (the answer\'s bytes)');
  const chunk = optionalChunk(query);
  const done = optionalFlag(query, 'done');
  const sha256 = optionalSha256(query);
  const mode = optionalMode(query);
  const { uploads } = ctx.deps;
  const id = Uploads.idOf(ctx.principal?.key ?? 'HASH', session, target);
  const finished = uploads.finishedState(id);
  // A re-fetched last chunk of an upload already in place: the same answer, nothing written.
  if (finished !== undefined && uploads.received(id) === undefined && offset + chunk.length === finished.bytes) {
    return reply(answerOf(session, target, finished));
  }
  const result = uploads.chunk(id, offset, chunk);
  if (result.kind === 'out-of-order') {
    throw new HttpError(409, `this upload has ${result.expected} bytes so far, not ${offset}`, `send the chunk at offset=${result.expected}${result.expected === 0 ? ' (a new upload starts at 0)' : ''}`);
  }
  if (result.kind === 'too-large') throw new HttpError(413, `the file is larger than MAX_UPLOAD_BYTES (${result.limit} bytes)`, 'nothing was put in place and the upload is dropped; ask the operator for a larger MAX_UPLOAD_BYTES, or split the file');
  if (!done) return reply(answerOf(session, target, result.state));
  if (offset + chunk.length !== result.state.bytes) {
    throw new HttpError(409, `done=1 at offset ${offset + chunk.length}, but ${result.state.bytes} bytes were received`, `send done=1 with offset=${result.state.bytes} (the total)`);
  }
  return reply(answerOf(session, target, await putInPlace(ctx, id, session, target, mode, sha256)));
}

function reply(json: UploadAnswer): Answer<UploadAnswer> {
  return { json, text: (shown = json) => `[upload ${shown.path} · ${shown.bytes} bytes · ${shown.done ? 'done' : 'in progress'}]\nsha256 ${shown.sha256}\n\nNext: ${shown.next}\n` };
}

/** A whole file in one go (MCP's write_file): spooled, then put in place like an upload's end. */
export async function writeWholeAnswer(ctx: AnswerContext, session: string, target: string, bytes: Buffer, mode: string): Promise<Answer<UploadAnswer>> {
  ctx.log.session = session;
  const id = Uploads.idOf(ctx.principal?.key ?? 'HASH', session, target);
  ctx.deps.uploads.begin(id);
  const result = ctx.deps.uploads.chunk(id, 0, bytes);
  if (result.kind === 'too-large') throw new HttpError(413, `the file is larger than MAX_UPLOAD_BYTES (${result.limit} bytes)`, 'nothing was put in place; split the file');
  return reply(answerOf(session, target, await putInPlace(ctx, id, session, target, mode, undefined)));
}

/** Reads a PUT body into the upload spool, refusing one larger than MAX_UPLOAD_BYTES. */
async function receiveBody(ctx: AnswerContext, req: IncomingMessage, id: string): Promise<void> {
  const { uploads, config } = ctx.deps;
  const declared = Number(req.headers['content-length'] ?? 0);
  const tooLarge = (): HttpError => {
    uploads.drop(id);
    // The rest of the body is read and dropped, so that the 413 reaches the client.
    req.resume();
    return new HttpError(413, `the file is larger than MAX_UPLOAD_BYTES (${config.maxUploadBytes} bytes)`, 'nothing was put in place; ask the operator for a larger MAX_UPLOAD_BYTES, or split the file');
  };
  if (declared > config.maxUploadBytes) throw tooLarge();
  uploads.begin(id);
  let received = 0;
  for await (const part of req) {
    const chunk = part as Buffer;
    const result = uploads.chunk(id, received, chunk);
    if (result.kind === 'too-large') throw tooLarge();
    received += chunk.length;
  }
}

export const upload: Handler = async (ctx) => {
  const { req, res, query } = ctx;
  if (req.method !== 'PUT') {
    sendJson(req, res, 200, (await uploadAnswer(ctx, query)).json);
    return;
  }
  const session = await requireOwnSessionParam(ctx, query);
  const target = requirePath(query);
  const sha256 = optionalSha256(query);
  const mode = optionalMode(query);
  const id = Uploads.idOf(ctx.principal?.key ?? 'HASH', session, target);
  await receiveBody(ctx, req, id);
  sendJson(req, res, 200, answerOf(session, target, await putInPlace(ctx, id, session, target, mode, sha256)));
};
