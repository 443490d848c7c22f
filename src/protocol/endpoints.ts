// The one description of the GET protocol's endpoints and parameters: the route table takes
// each endpoint's parameters from here (anything else is refused), and /openapi.json is built
// from it (openapi.ts). Descriptions stay within GPT Actions' limits: 300 characters for an
// operation, 700 for a parameter.
type Schema = Record<string, unknown>;

/** What a cursor this server hands out is made of (answers/links.ts: a time and a counter, base 36). */
export const CURSOR_CHARS = '[0-9a-z]{1,24}';

export interface ParamSpec {
  readonly description: string;
  readonly schema: Schema;
}

const seconds = (max?: number): Schema => ({ type: 'integer', minimum: 0, ...(max === undefined ? {} : { maximum: max }) });
const SESSION: Schema = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' };

/** The longest reason a denial tells the agent. */
export const MAX_REASON_BYTES = 1024;

export const PARAMS = {
  cmd: { description: 'The shell command, URL-encoded once (up to 128 KiB). Give cmd or cmd64.', schema: { type: 'string', maxLength: 131072 } },
  cmd64: { description: 'The command as base64 (standard or URL-safe, padding optional), for tools that mangle URL encoding.', schema: { type: 'string' } },
  session: {
    description: 'The session to use: its working directory and exported variables carry from one command to the next. Leave it out on /shell to start a new session; its name is in the answer.',
    schema: SESSION,
  },
  timeout: { description: 'Seconds: lowers the command\'s time limit (never raises it past the server\'s).', schema: { type: 'integer', minimum: 1 } },
  idle_timeout: { description: 'Seconds: end the command when it has printed nothing for this long.', schema: { type: 'integer', minimum: 1 } },
  nonce: { description: 'Any value: an identical repeat of the latest request is a replay; a new nonce runs the command again.', schema: { type: 'string', maxLength: 200 } },
  wait: {
    description: 'Seconds to hold the answer until the command finishes (at most MAX_WAIT, 40 by default; a larger value is shortened and the answer says so). Choose it below your tool\'s own time limit.',
    schema: seconds(),
  },
  format: { description: 'text: a plain-text answer whose first line states ticket, status and exit code.', schema: { type: 'string', enum: ['json', 'text'] } },
  ticket: { description: 'The ticket number from the /shell answer.', schema: { type: 'integer', minimum: 1 } },
  offset: { description: 'Byte offset into the stored output (with limit: an exact window).', schema: { type: 'integer', minimum: 0 } },
  limit: { description: 'Bytes of stored output to show from offset.', schema: { type: 'integer', minimum: 1 } },
  cursor: { description: 'Opaque; it makes each poll URL new so that no cache replays an old answer. Keep it as given.', schema: { type: 'string', pattern: `^${CURSOR_CHARS}$` } },
  after: { description: 'Only the tickets numbered above this one.', schema: { type: 'integer', minimum: 0 } },
  path: { description: 'The file: absolute, or relative to the session\'s working directory (where its last command ended). Up to 4096 bytes, URL-encoded once.', schema: { type: 'string', maxLength: 4096 } },
  data64: { description: 'One chunk of the file, base64 (standard or URL-safe, padding optional), at most 96 KiB decoded.', schema: { type: 'string' } },
  done: { description: '1: this is the end; put the file in place (offset = the total, after this request\'s chunk).', schema: { type: 'string', enum: ['0', '1'] } },
  sha256: { description: 'The whole file\'s SHA-256 in hex, checked before it is put in place (a mismatch: 422, nothing put in place).', schema: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' } },
  mode: { description: 'The file\'s permission bits in octal (default 644).', schema: { type: 'string', pattern: '^0?[0-7]{3}$' } },
  tty: { description: '1: run the command on a pseudo-terminal (prompts, REPLs, ssh, full-screen programs); write to it with /stdin, see it with /screen.', schema: { type: 'string', enum: ['0', '1'] } },
  cols: { description: 'With tty=1: the terminal\'s width, 20 to 500 (default 120).', schema: { type: 'integer', minimum: 20, maximum: 500 } },
  rows: { description: 'With tty=1: the terminal\'s height, 5 to 200 (default 40).', schema: { type: 'integer', minimum: 5, maximum: 200 } },
  since: { description: 'With wait: answer as soon as output_bytes exceeds this (follow new output, as tail -f).', schema: { type: 'integer', minimum: 0 } },
  n: { description: 'The number of this write on this ticket, 1 for the first (the stdin URL carries the next): a repeated n with the same text types nothing.', schema: { type: 'integer', minimum: 1 } },
  text: { description: 'What to type, URL-encoded once: %0D is Enter, %03 Ctrl-C, %04 Ctrl-D, %1B Esc. At most 64 KiB.', schema: { type: 'string' } },
  text64: { description: 'What to type, as base64 (instead of text).', schema: { type: 'string' } },
  eof: { description: '1: send the terminal\'s end-of-file (Ctrl-D) after the text.', schema: { type: 'string', enum: ['0', '1'] } },
  secret: { description: '1: a password: stored nowhere (the audit log says [secret input, N bytes]).', schema: { type: 'string', enum: ['0', '1'] } },
  quiet: { description: 'Milliseconds of silence after the write before the answer (default 300, at most 10000).', schema: { type: 'integer', minimum: 0, maximum: 10000 } },
  input: { description: 'full: show the whole command in input (answers show its first KiB otherwise).', schema: { type: 'string', enum: ['full'] } },
  reason: { description: 'Why the command is denied, told to the agent (at most 1 KiB; also as a form field).', schema: { type: 'string', maxLength: MAX_REASON_BYTES } },
} satisfies Record<string, ParamSpec>;

export type ParamName = keyof typeof PARAMS;

export interface EndpointSpec {
  readonly summary: string;
  readonly description: string;
  readonly params: readonly ParamName[];
  readonly required: readonly ParamName[];
  /** Schema names (schemas.ts) of the 200 JSON answer: one, or a choice. */
  readonly answers: readonly string[];
  /** Changes something on the host (GPT Actions ask the user first). */
  readonly consequential: boolean;
  /** The error statuses it may answer, besides 401/403/429 for credentials. */
  readonly errors: readonly number[];
  /** An error status whose answer is not the usual ErrorAnswer: the schema name (schemas.ts). */
  readonly errorAnswers?: Readonly<Partial<Record<number, string>>>;
  /** Needs no key (/, /healthz, /openapi.json). */
  readonly open?: boolean;
  /** The answer is not JSON (a page). */
  readonly page?: string;
  /** Also taken as a POST, which decides (/approve, /deny); a GET only shows. */
  readonly post?: boolean;
  /** Also taken as a PUT with a body (the parameters it then takes). */
  readonly put?: { readonly params: readonly ParamName[]; readonly required: readonly ParamName[] };
}

const COMMON_ERRORS = [400, 404, 414, 431];

export const ENDPOINTS: Record<string, EndpointSpec> = {
  '/shell': {
    summary: 'Run a shell command',
    description: 'Runs cmd in a session (a new one without session). Answers at once with a ticket, or with wait=N the result if it finished in time. Then GET the poll URL of the answer until type is result.',
    params: ['cmd', 'cmd64', 'session', 'timeout', 'idle_timeout', 'nonce', 'wait', 'format', 'tty', 'cols', 'rows'],
    required: [],
    answers: ['ShellResult', 'Submission'],
    consequential: true,
    errors: [...COMMON_ERRORS, 503, 507],
  },
  '/metrics': {
    summary: 'Prometheus metrics',
    description: 'Tickets by status, requests by route and code, auth failures and lock-outs, commands running and queued, ready shells, sessions, command and request durations. The operator\'s key (HASH) only.',
    params: [],
    required: [],
    answers: [],
    consequential: false,
    errors: [400, 404],
    page: 'text/plain',
  },
  '/stdin': {
    summary: 'Type into a terminal',
    description: 'Writes text to a running tty=1 ticket\'s terminal, once per n. Answers with the ticket view once the output has been quiet for quiet ms (or it ended, or wait s passed), showing what the write produced.',
    params: ['session', 'ticket', 'n', 'text', 'text64', 'eof', 'secret', 'quiet', 'wait', 'format'],
    required: ['session', 'ticket', 'n'],
    answers: ['StdinAnswer'],
    consequential: true,
    errors: [...COMMON_ERRORS, 409, 413],
  },
  '/screen': {
    summary: 'Read a terminal\'s screen',
    description: 'The screen of a tty=1 ticket, now (or last, once it ended), rendered by a terminal emulator: for full-screen programs (top, less, vi). format=text gives the lines.',
    params: ['session', 'ticket', 'format'],
    required: ['session', 'ticket'],
    answers: ['ScreenAnswer'],
    consequential: false,
    errors: [...COMMON_ERRORS, 409],
  },
  '/file': {
    summary: 'Download a file',
    description: 'A file of the host, as the session\'s command user reads it, after the session\'s running command. A Range header, or offset and limit, give a part (206). format=text gives UTF-8 text.',
    params: ['session', 'path', 'offset', 'limit', 'format'],
    required: ['session', 'path'],
    answers: [],
    consequential: false,
    errors: [...COMMON_ERRORS, 403, 409, 416, 503],
    page: 'application/octet-stream',
  },
  '/upload': {
    summary: 'Upload a file',
    description: 'A file onto the host, as the session\'s command user: base64 chunks of up to 96 KiB at offset (a repeated chunk is not written twice), then done=1 puts it in place atomically. PUT with the body does it in one request.',
    params: ['session', 'path', 'offset', 'data64', 'done', 'sha256', 'mode'],
    required: ['session', 'path', 'offset'],
    answers: ['UploadAnswer'],
    consequential: true,
    errors: [...COMMON_ERRORS, 403, 409, 413, 422, 503, 507],
    put: { params: ['session', 'path', 'sha256', 'mode'], required: ['session', 'path'] },
  },
  '/callback': {
    summary: 'Read a ticket',
    description: 'The ticket as it stands: status, exit code and output so far. wait=N answers as soon as it finishes (long-poll); offset and limit page through the stored output.',
    params: ['session', 'ticket', 'wait', 'offset', 'limit', 'format', 'cursor', 'input', 'since'],
    required: ['session', 'ticket'],
    answers: ['TicketView'],
    consequential: false,
    errors: [...COMMON_ERRORS, 416, 422],
  },
  '/history': {
    summary: 'Read a session\'s tickets',
    description: 'Every ticket of a session in ticket order, each with at most a page of its output. after=N keeps those above N; format=text gives a terminal transcript.',
    params: ['session', 'after', 'format'],
    required: ['session'],
    answers: ['History'],
    consequential: false,
    errors: COMMON_ERRORS,
  },
  '/cancel': {
    summary: 'Stop a ticket',
    description: 'Stops a queued or running ticket and every process it started. A finished ticket is left as it is, and the answer says so.',
    params: ['session', 'ticket'],
    required: ['session', 'ticket'],
    answers: ['CancelAnswer'],
    consequential: true,
    errors: [...COMMON_ERRORS, 422, 507],
  },
  '/sessions': {
    summary: 'List sessions',
    description: 'Every session, newest first: ticket count, the key that made it, whether it is busy, and links to its history, a read-only live page, and its next command. Needs a key.',
    params: ['format'],
    required: [],
    answers: ['Sessions'],
    consequential: false,
    errors: COMMON_ERRORS,
  },
  '/approve': {
    summary: 'Approve a pending command',
    description: 'GET shows the pending command (a page with Approve and Deny buttons in a browser) and decides nothing; POST approves it: it is then queued. The operator\'s key (HASH) or an approval link.',
    params: ['session', 'ticket'],
    required: ['session', 'ticket'],
    answers: ['ApprovalAnswer'],
    consequential: true,
    errors: [...COMMON_ERRORS, 409, 503, 507],
    post: true,
  },
  '/deny': {
    summary: 'Deny a pending command',
    description: 'GET shows the pending command and decides nothing; POST denies it (reason=, told to the agent): it ends denied without running. The operator\'s key (HASH) or an approval link.',
    params: ['session', 'ticket', 'reason'],
    required: ['session', 'ticket'],
    answers: ['ApprovalAnswer'],
    consequential: true,
    errors: [...COMMON_ERRORS, 409, 503, 507],
    post: true,
  },
  '/view': {
    summary: 'A live page of a session',
    description: 'An HTML page of the session\'s transcript for a person, updating itself. A read-only link (a read token) is enough.',
    params: ['session'],
    required: ['session'],
    answers: [],
    consequential: false,
    errors: COMMON_ERRORS,
    page: 'text/html',
  },
  '/context': {
    summary: 'How to use this server',
    description: 'The page to hand an agent: how to use this server, with worked examples that carry the key that fetched it. format=md gives markdown.',
    params: ['format'],
    required: [],
    answers: [],
    consequential: false,
    errors: COMMON_ERRORS,
    page: 'text/html',
  },
  '/healthz': {
    summary: 'Health',
    description: 'Answers {"ok": true} while commands can run; 503 {"ok": false, "error": …} while they cannot (a command could not start, and no self-check has passed since). No key needed.',
    params: [],
    required: [],
    answers: ['Health'],
    consequential: false,
    errors: [503],
    errorAnswers: { 503: 'Unhealthy' },
    open: true,
  },
  '/': { summary: 'README', description: 'The README as a page. No key needed.', params: [], required: [], answers: [], consequential: false, errors: [], open: true, page: 'text/html' },
  '/favicon.ico': { summary: 'No icon', description: 'An empty answer (204) for the icon browsers ask for. No key needed.', params: [], required: [], answers: [], consequential: false, errors: [], open: true, page: 'image/x-icon' },
  '/.well-known/oauth-protected-resource': { summary: 'MCP resource metadata', description: 'RFC 9728 metadata of /mcp: Bearer keys in the header, no authorization server (keys come from the operator). No key needed.', params: [], required: [], answers: [], consequential: false, errors: [], open: true, page: 'application/json' },
  '/.well-known/oauth-protected-resource/mcp': { summary: 'MCP resource metadata', description: 'The same, at the path MCP clients try first. No key needed.', params: [], required: [], answers: [], consequential: false, errors: [], open: true, page: 'application/json' },
  '/register': { summary: 'No OAuth', description: 'This server offers no OAuth client registration: a client that tries it is told its key is wrong or missing. No key needed.', params: [], required: [], answers: [], consequential: false, errors: [400], open: true, page: 'application/json' },
  '/openapi.json': { summary: 'This document', description: 'OpenAPI 3.1 for every endpoint. No key needed.', params: [], required: [], answers: [], consequential: false, errors: [], open: true, page: 'application/json' },
};

/** The format each endpoint takes: its values and what they give (they differ per endpoint). */
export const FORMATS: Partial<Record<string, { readonly values: readonly string[]; readonly description: string }>> = {
  '/context': { values: ['md', 'html'], description: 'md: the page as markdown (text/markdown); html, the default: the page as HTML.' },
  '/shell': { values: ['json', 'text'], description: 'text: a plain-text answer whose first line states ticket, status and exit code; json, the default: the JSON answer.' },
  '/callback': { values: ['json', 'text'], description: 'text: the ticket as a terminal transcript whose first line states ticket, status and exit code; json, the default: the ticket view.' },
  '/history': { values: ['json', 'text'], description: 'text: the session as a terminal transcript whose first line states its last ticket; json, the default: an array of ticket views.' },
  '/stdin': { values: ['json', 'text'], description: 'text: the ticket as a terminal transcript; json, the default: the ticket view.' },
  '/screen': { values: ['json', 'text'], description: 'text: the screen\'s lines; json, the default: the screen with its size and cursor.' },
  '/file': { values: ['bytes', 'text'], description: 'text: the file as UTF-8 text (text/plain; invalid bytes become U+FFFD); bytes, the default: the bytes as they are.' },
  '/sessions': { values: ['json', 'text', 'html'], description: 'text: one paragraph a session, newest first; html: a page for a browser, each session\'s live view a link; json, the default: the list.' },
};
