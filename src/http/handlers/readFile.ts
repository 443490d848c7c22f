// A file read whole into one answer, for MCP's read_file (a tool result is one message): up to
// a limit, as UTF-8 text when it is text, else as base64. The same helper and rules as GET /file.
import crypto from 'node:crypto';
import { fileRefused } from '../domainErrors.js';
import { HttpError } from '../httpError.js';
import type { Answer, AnswerContext } from '../requestContext.js';
import { auditTransfer, behindSessionCommands } from './transfer.js';

/** What one read_file gives at most; offset and limit read further. */
export const READ_FILE_MAX_BYTES = 256 * 1024;

export interface FileAnswer {
  type: 'file';
  session: string;
  path: string;
  /** The file's whole size. */
  size: number;
  offset: number;
  /** Bytes in this answer. */
  bytes: number;
  encoding: 'utf-8' | 'base64';
  content: string;
  next: string;
}

export async function readFileAnswer(ctx: AnswerContext, session: string, target: string, offset: number, limit: number | undefined): Promise<Answer<FileAnswer>> {
  ctx.log.session = session;
  await behindSessionCommands(ctx, session);
  const count = Math.min(limit ?? READ_FILE_MAX_BYTES, READ_FILE_MAX_BYTES);
  const opened = await ctx.deps.files.read(ctx.deps.scheduler.userOf(session), ctx.deps.scheduler.cwdOf(session), target, { offset, count });
  if (opened.kind !== 'ok') throw fileRefused(opened.kind, target, false);
  if (offset > 0 && offset >= opened.size) {
    opened.end();
    throw new HttpError(416, `offset ${offset} is beyond the file (${opened.size} bytes)`, `ask for an offset from 0 to ${Math.max(0, opened.size - 1)}`);
  }
  const parts: Buffer[] = [];
  for await (const chunk of opened.bytes) parts.push(chunk as Buffer);
  const bytes = Buffer.concat(parts);
  let content: string;
  let encoding: FileAnswer['encoding'] = 'utf-8';
  try {
    content = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    content = bytes.toString('base64');
    encoding = 'base64';
  }
  auditTransfer(ctx, 'file_read', session, target, bytes.length, crypto.createHash('sha256').update(bytes).digest('hex'));
  const end = offset + bytes.length;
  const next = end < opened.size ? `${opened.size - end} more bytes: call read_file with offset ${end}.` : 'That is the whole file (from the offset).';
  const json: FileAnswer = { type: 'file', session, path: target, size: opened.size, offset, bytes: bytes.length, encoding, content, next };
  return {
    json,
    text: (shown = json) => `[file ${shown.path} · ${shown.bytes} of ${shown.size} bytes from ${shown.offset} · ${shown.encoding}]\n${shown.content}${shown.content.endsWith('\n') || shown.content === '' ? '' : '\n'}\nNext: ${shown.next}\n`,
  };
}
