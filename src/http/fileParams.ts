// The parameters of /file and /upload, parsed once: the path, a byte range (Range, or offset and
// limit), a base64 chunk, a sha256 and a mode. Every refusal says what to send instead.
import type { IncomingMessage } from 'node:http';
import { HttpError } from './httpError.js';
import { optionalWhole } from './params.js';
import type { Query } from './query.js';

/** The longest path taken, in bytes. */
export const MAX_PATH_BYTES = 4096;
/** The largest chunk one GET /upload carries, decoded. */
export const MAX_CHUNK_BYTES = 96 * 1024;

export function requirePath(q: Query): string {
  const value = q.get('path');
  if (value === undefined || value === '') throw new HttpError(400, 'path is missing', 'add &path=<file>, URL-encoded: absolute, or relative to the session\'s working directory');
  if (value.includes('\0')) throw new HttpError(400, 'path holds a NUL byte', 'no file name holds one: send the path as it is, URL-encoded once');
  if (Buffer.byteLength(value, 'utf8') > MAX_PATH_BYTES) throw new HttpError(400, `path is longer than ${MAX_PATH_BYTES} bytes`, 'give a shorter path, or change to its directory with a command first and give it relative to that');
  return value;
}

/** A part of a file: from `offset`, `count` bytes (null: to the end); `suffix`: the last `count` bytes. */
export type ByteRange = { readonly kind: 'from'; readonly offset: number; readonly count: number | null } | { readonly kind: 'suffix'; readonly count: number };

const RANGE_HINT = 'send Range: bytes=<first>-<last> (or <first>- to the end, or -<n> for the last n bytes), one range only; or offset= and limit=';

/** The part asked for: the Range header, else offset and limit; undefined for the whole file. */
export function optionalByteRange(req: IncomingMessage, q: Query): ByteRange | undefined {
  const header = req.headers.range;
  const offset = optionalWhole(q, 'offset', 'offset is a byte count: &offset=0 starts at the first byte');
  const limit = optionalWhole(q, 'limit', 'limit is a byte count, at least 1');
  if (header !== undefined && (offset !== undefined || limit !== undefined)) throw new HttpError(400, 'both a Range header and offset/limit are given', 'give the part once: the Range header, or offset= and limit=');
  if (header !== undefined) {
    const match = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
    if (match === null || (match[1] === '' && match[2] === '')) throw new HttpError(400, `the Range header ${JSON.stringify(header.slice(0, 60))} is not one this server takes`, RANGE_HINT);
    const [, first = '', last = ''] = match;
    if (first === '') {
      if (Number(last) === 0) throw new HttpError(416, 'a suffix range of 0 bytes', 'ask for at least one byte: bytes=-1');
      return { kind: 'suffix', count: Number(last) };
    }
    if (last !== '' && Number(last) < Number(first)) throw new HttpError(400, 'the Range ends before it starts', RANGE_HINT);
    return { kind: 'from', offset: Number(first), count: last === '' ? null : Number(last) - Number(first) + 1 };
  }
  if (offset === undefined && limit === undefined) return undefined;
  if (limit === 0) throw new HttpError(400, 'limit must be at least 1', 'leave limit out to read to the end of the file');
  return { kind: 'from', offset: offset ?? 0, count: limit ?? null };
}

/** Bytes sent as base64 in `name` (standard or URL-safe, padding optional); empty when absent. */
export function optionalBase64(q: Query, name: string, maxBytes: number): Buffer {
  const value = q.get(name);
  if (value === undefined || value === '') return Buffer.alloc(0);
  // Standard base64's '+' arrives as a space when sent unencoded: read it back as '+'.
  const text = value.trim().replace(/ /g, '+').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) throw new HttpError(400, `${name} is not base64`, 'encode the bytes as base64 (A-Z a-z 0-9 with + / or - _, padding optional)');
  if ((text.length * 3) / 4 > maxBytes + 2) throw new HttpError(413, `${name} is larger than ${maxBytes} bytes decoded`, 'send less at once');
  return Buffer.from(text, 'base64url');
}

/** A chunk's bytes from `data64`; empty when absent. */
export function optionalChunk(q: Query): Buffer {
  const bytes = optionalBase64(q, 'data64', MAX_CHUNK_BYTES * 2);
  if (bytes.length > MAX_CHUNK_BYTES) throw new HttpError(413, `the chunk is larger than ${MAX_CHUNK_BYTES / 1024} KiB decoded`, `send at most ${MAX_CHUNK_BYTES} bytes a chunk (${(MAX_CHUNK_BYTES / 3) * 4} base64 characters), or the whole file with PUT /upload`);
  return bytes;
}

export function optionalSha256(q: Query): string | undefined {
  const value = q.get('sha256');
  if (value === undefined || value === '') return undefined;
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new HttpError(400, 'sha256 is not a SHA-256 in hex', 'give the 64 hex digits sha256sum prints, or leave sha256 out');
  return value.toLowerCase();
}

/** The mode a file is put in place with: octal, permission bits only (default 0644). */
export function optionalMode(q: Query): string {
  const value = q.get('mode');
  if (value === undefined || value === '') return '644';
  if (!/^0?[0-7]{3}$/.test(value)) throw new HttpError(400, `mode ${JSON.stringify(value.slice(0, 20))} is not a file mode this server sets`, 'give the permission bits in octal, e.g. mode=644 or mode=755 (no setuid, setgid or sticky bit)');
  return value.replace(/^0(?=\d{3}$)/, '');
}

export function optionalFlag(q: Query, name: string): boolean {
  const value = q.get(name);
  if (value === undefined || value === '' || value === '0') return false;
  if (value === '1') return true;
  throw new HttpError(400, `${name} must be 1 or 0`, `add &${name}=1, or leave it out`);
}
