// Small typed parsers for query parameters. Handlers call these once, at the edge; inner
// modules take the typed values and never re-check. Every refusal says how to fix the request.
import type { OutputWindow } from '../protocol/outputParts.js';
import type { TerminalSize } from '../protocol/types.js';
import { CREDENTIAL_PARAMS } from './credentials.js';
import { HttpError } from './httpError.js';
import type { Query } from './query.js';
import { SESSION_NAME } from '../storage/sessionLayout.js';

const HINT_SESSION = 'a session name is 1 to 64 letters, digits, _ or -, starting with a letter or digit; omit session on /shell to get a new one';

function show(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

export function optionalSession(q: Query): string | undefined {
  const value = q.get('session');
  if (value === undefined || value === '') return undefined;
  if (!SESSION_NAME.test(value)) throw new HttpError(400, `session ${show(value)} is not a valid session name`, HINT_SESSION);
  return value;
}

export function requireSession(q: Query): string {
  const value = optionalSession(q);
  if (value === undefined) {
    throw new HttpError(400, 'session is missing', 'add &session=<name>: the session name is in the answer of the /shell request that created it; GET /sessions lists them');
  }
  return value;
}

/** A non-negative whole number in decimal digits, or undefined when absent. */
export function optionalWhole(q: Query, name: string, hint: string): number | undefined {
  const value = q.get(name);
  if (value === undefined || value === '') return undefined;
  if (!/^\d{1,15}$/.test(value)) throw new HttpError(400, `${name} must be a whole number of at most 15 digits, got ${show(value)}`, hint);
  return Number(value);
}

export function requireTicket(q: Query): number {
  const hint = 'ticket is the number from the /shell answer, e.g. &ticket=3; GET /history?session=<name> lists a session\'s tickets';
  const value = q.get('ticket');
  if (value === undefined || value === '') throw new HttpError(400, 'ticket is missing', hint);
  if (!/^\d+$/.test(value)) throw new HttpError(400, `ticket must be a positive integer written in decimal digits, got ${show(value)}`, hint);
  const ticket = Number(value);
  if (ticket < 1) throw new HttpError(400, 'ticket must be 1 or more', hint);
  if (!Number.isSafeInteger(ticket)) throw new HttpError(404, `ticket ${value.slice(0, 30)} does not exist`, hint);
  return ticket;
}

/** A wait in seconds: what was asked, and what applies (at most MAX_WAIT). */
export interface Wait {
  readonly seconds: number;
  /** The larger value asked for, when it was shortened to MAX_WAIT. */
  readonly shortenedFrom?: number;
}

export function optionalWait(q: Query, max: number): Wait {
  const value = optionalWhole(q, 'wait', `wait is a whole number of seconds, at most ${max}`);
  if (value === undefined) return { seconds: 0 };
  return value > max ? { seconds: max, shortenedFrom: value } : { seconds: value };
}

/** What an answer says about a shortened wait, if it was. */
export function waitNotice(wait: Wait): string | undefined {
  return wait.shortenedFrom === undefined ? undefined : `wait=${wait.shortenedFrom} was shortened to ${wait.seconds} s, the longest this server holds an answer here.`;
}

/**
 * A `+` in the raw `cmd=` is a space once decoded (form encoding): said when the client plainly
 * meant a plus (arithmetic, a regex, a URL), which then runs as a space.
 */
export function plusNotice(rawTarget: string | undefined): string | undefined {
  const raw = /[?&]cmd=([^&]*)/.exec(rawTarget ?? '')?.[1];
  // Spaces sent as %20 beside a +: that + was not meant as a space. (All spaces as +, form
  // encoding's way, says nothing: that client encodes a plus as %2B.)
  if (raw === undefined || !raw.includes('+') || !/%20| /.test(raw)) return undefined;
  return 'each + in cmd was read as a space (form encoding); if you meant a plus sign, encode it as %2B, or send the command as cmd64=.';
}

/** Notices for one answer, joined; undefined when there is none. */
export function joinNotices(...notices: Array<string | undefined>): string | undefined {
  const said = notices.filter((notice): notice is string => notice !== undefined);
  return said.length === 0 ? undefined : said.join(' ');
}

/** Seconds, 1..max, for limits that may only lower the configured one. */
export function optionalLimit(q: Query, name: string, max: number): number | undefined {
  const value = optionalWhole(q, name, `${name} is a whole number of seconds from 1 to ${max}`);
  if (value === undefined) return undefined;
  if (value < 1) throw new HttpError(400, `${name} must be at least 1 second`, `give ${name} from 1 to ${max}, or leave it out`);
  return Math.min(value, max);
}

export function optionalWindow(q: Query, defaultLimit: number, maxLimit: number): OutputWindow | undefined {
  const hint = `offset and limit are byte counts: &offset=0&limit=${defaultLimit} shows the first ${defaultLimit} bytes of the stored output`;
  const offset = optionalWhole(q, 'offset', hint);
  const limit = optionalWhole(q, 'limit', hint);
  if (offset === undefined && limit === undefined) return undefined;
  if (limit === 0) throw new HttpError(400, 'limit must be at least 1', hint);
  return { offset: offset ?? 0, limit: Math.min(limit ?? defaultLimit, maxLimit) };
}

export function optionalFormat<T extends string>(q: Query, allowed: readonly T[]): T | undefined {
  const value = q.get('format');
  if (value === undefined || value === '') return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new HttpError(400, `format ${show(value)} is not offered here`, `use format=${allowed.join(' or format=')}, or leave it out for JSON`);
}

/** `tty=1` with `cols` and `rows` (default 120×40): the command's terminal, or null for none. */
export function optionalTerminal(q: Query): TerminalSize | null {
  const tty = q.get('tty');
  const hint = 'tty=1 runs the command on a terminal, cols from 20 to 500 and rows from 5 to 200 (default 120 by 40)';
  if (tty === undefined || tty === '' || tty === '0') {
    if (q.has('cols') || q.has('rows')) throw new HttpError(400, 'cols and rows are for a terminal', 'add &tty=1, or leave cols and rows out');
    return null;
  }
  if (tty !== '1') throw new HttpError(400, `tty must be 1 or 0, got ${show(tty)}`, hint);
  const cols = optionalWhole(q, 'cols', hint) ?? 120;
  const rows = optionalWhole(q, 'rows', hint) ?? 40;
  if (cols < 20 || cols > 500 || rows < 5 || rows > 200) throw new HttpError(400, `a terminal of ${cols}×${rows} is out of range`, hint);
  return { cols, rows };
}

/** `input=full`: the whole command in the answer; anything else is refused. */
export function optionalFullInput(q: Query): boolean {
  const value = q.get('input');
  if (value === undefined || value === '') return false;
  if (value === 'full') return true;
  throw new HttpError(400, `input ${show(value)} is not offered`, 'use input=full for the whole command, or leave it out');
}

export function optionalNonce(q: Query): string | null {
  const value = q.get('nonce');
  if (value === undefined || value === '') return null;
  if (value.length > 200) throw new HttpError(400, 'nonce is longer than 200 characters', 'use a short value such as a counter or a timestamp');
  return value;
}

export const MAX_COMMAND_BYTES = 128 * 1024;

const CMD_HINT = 'send the command URL-encoded once as cmd=, e.g. cmd=ls%20-la, or base64url-encoded as cmd64=';

function checkCommand(command: string, from: string): string {
  if (command.trim() === '') throw new HttpError(400, `${from} is empty`, CMD_HINT);
  if (command.includes('\0')) throw new HttpError(400, `${from} contains a NUL byte, which no shell command can hold`, 'remove the %00 from the command');
  if (Buffer.byteLength(command, 'utf8') > MAX_COMMAND_BYTES) throw new HttpError(414, `${from} is longer than 128 KiB`, 'write long scripts to a file in several commands, or fetch them with curl');
  return command;
}

/** The command from `cmd` (decoded once by the query parser) or `cmd64` (base64url). */
export function requireCommand(q: Query): string {
  const cmd = q.get('cmd');
  const cmd64 = q.get('cmd64');
  if (cmd !== undefined && cmd64 !== undefined) throw new HttpError(400, 'both cmd and cmd64 are given', 'give the command once: cmd= or cmd64=');
  if (cmd64 !== undefined) {
    // Standard base64's '+' arrives as a space when sent unencoded (form rules): it is read back
    // as '+'. Both alphabets are taken, padded or not.
    const text = cmd64.trim().replace(/ /g, '+').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
    if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
      throw new HttpError(400, 'cmd64 is not base64', 'encode the command\'s UTF-8 bytes as base64 (A-Z a-z 0-9 with + / or - _, padding optional)');
    }
    let decoded: string;
    try {
      decoded = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(text, 'base64url'));
    } catch {
      throw new HttpError(400, 'cmd64 does not decode to UTF-8 text', 'encode the command\'s UTF-8 bytes as base64url');
    }
    return checkCommand(decoded, 'cmd64');
  }
  if (cmd === undefined) throw new HttpError(400, 'cmd is missing', CMD_HINT);
  return checkCommand(cmd, 'cmd');
}

/** A submission's identity: its parameters (the credential, which names who asks, left out), in a fixed order. */
export function submissionIdentity(query: Query): string {
  const pairs = [...query].filter(([name]) => !CREDENTIAL_PARAMS.includes(name)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(pairs);
}
