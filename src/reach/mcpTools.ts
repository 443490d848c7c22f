// The MCP tools: each turns its arguments into the same query the GET endpoint of its name
// takes and calls the same answer function, so that tickets, sessions, validation and views are
// the GET protocol's. Their results leave out ready URLs (a client calls tools instead).
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { z } from 'zod';
import type { Answer, AnswerContext } from '../http/requestContext.js';
import { answerFor } from '../http/domainErrors.js';
import { callbackAnswer } from '../http/handlers/callback.js';
import { cancelAnswer } from '../http/handlers/cancel.js';
import { historyAnswer } from '../http/handlers/history.js';
import { sessionsAnswer } from '../http/handlers/sessions.js';
import { shellAnswer } from '../http/handlers/shell.js';
import { HttpError } from '../http/httpError.js';
import { optionalMode, requirePath } from '../http/fileParams.js';
import { requireSession } from '../http/params.js';
import { readFileAnswer, READ_FILE_MAX_BYTES } from '../http/handlers/readFile.js';
import { writeWholeAnswer, type UploadAnswer } from '../http/handlers/upload.js';
import { screenAnswer, stdinAnswer } from '../http/handlers/terminal.js';

/** What a tool call gets besides its arguments: its request's auth info among others. */
export type CallExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

type Args = Record<string, string | number | undefined>;

/**
 * One validator for every server: the SDK's default builds an Ajv instance per server, its
 * meta-schemas compiled again each time. (The tools' arguments are checked by zod; the SDK uses
 * this one only to check a client's answer to an elicitation, which these tools never ask for.)
 */
const VALIDATOR = new AjvJsonSchemaValidator();

const SESSION = z.string().describe('The session: its working directory and exported variables carry between commands.');
const TICKET = z.number().int().min(1).describe('The ticket number from the shell result.');

function waitArg(max: number): z.ZodOptional<z.ZodNumber> {
  return z.number().int().min(0).optional().describe(`Seconds to hold the call until the command finishes (at most ${max}).`);
}

/** Turns a tool's arguments into the query its GET endpoint takes. */
function query(args: Args): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, value] of Object.entries(args)) if (value !== undefined) map.set(name, String(value));
  return map;
}

/** Ready URLs: an MCP client calls tools, so its results carry none. */
const LINK_FIELDS = new Set(['callback', 'poll', 'cancel', 'shell', 'next_page', 'history', 'view', 'stdin']);

/** A view without its ready URLs (and, for structuredContent, without its output). */
function lean(value: unknown, dropOutput: boolean): unknown {
  if (Array.isArray(value)) return value.map((item) => lean(item, dropOutput));
  if (value === null || typeof value !== 'object') return value;
  const kept: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(value)) {
    if (LINK_FIELDS.has(name) || (dropOutput && (name === 'output' || name === 'content'))) continue;
    kept[name] = name === 'sessions' ? lean(field, dropOutput) : field;
  }
  return kept;
}

/**
 * A tool's result. The output goes once, in the text part the model reads (status line first,
 * then the output and what next); structuredContent holds the protocol's view without the
 * output and without ready URLs, for a client that acts on the fields. So a result is the
 * output plus well under a kilobyte.
 */
async function result<T>(answer: () => Promise<Answer<T>>): Promise<{ content: Array<{ type: 'text'; text: string }>; structuredContent: Record<string, unknown>; isError?: boolean }> {
  try {
    const { json, text: render } = await answer();
    const text = render(lean(json, false) as T);
    const fields = lean(json, true);
    const structured = Array.isArray(fields) ? { tickets: fields } : (fields as Record<string, unknown>);
    return { content: [{ type: 'text', text }], structuredContent: structured };
  } catch (thrown) {
    const error = answerFor(thrown);
    if (error === undefined) throw thrown;
    return { content: [{ type: 'text', text: `error: ${error.message}\nhint: ${error.hint}` }], structuredContent: { error: error.message, hint: error.hint }, isError: true };
  }
}

/** write_file's arguments, checked as /upload checks its own. */
async function writeFileAnswer(ctx: AnswerContext, args: { session: string; path: string; content?: string; content64?: string; mode?: string }): Promise<Answer<UploadAnswer>> {
  if ((args.content === undefined) === (args.content64 === undefined)) throw new HttpError(400, 'give the file once: content or content64', 'content for text, content64 (base64) for binary files');
  const bytes = args.content !== undefined ? Buffer.from(args.content, 'utf8') : Buffer.from(args.content64 ?? '', 'base64');
  const q = query({ session: args.session, path: args.path, mode: args.mode });
  return writeWholeAnswer(ctx, requireSession(q), requirePath(q), bytes, optionalMode(q));
}

/**
 * An MCP server with the tools registered. It holds nothing of a request: each call takes its
 * request's context from `contextOf(extra)`, so one server serves call after call (mcp.ts).
 */
export function buildMcpServer(maxWait: number, version: string, contextOf: (extra: CallExtra) => AnswerContext): McpServer {
  const server = new McpServer({ name: 'llmass', version }, { jsonSchemaValidator: VALIDATOR });
  server.registerTool(
    'shell',
    {
      description: `Run a shell command on the host. It gets a ticket at once; with wait=N (up to ${maxWait} s) the call returns the result if the command finished by then. Otherwise call callback with the session and ticket until status is no longer pending, queued or running. pending: the command waits for a person's approval (your key needs one) and has not run; denied: a person refused it (reason says why), it never ran.`,
      inputSchema: {
        cmd: z.string().min(1).describe('The shell command (bash).'),
        session: SESSION.optional(),
        wait: waitArg(maxWait),
        timeout: z.number().int().min(1).optional().describe('Seconds: a lower time limit for this command.'),
        idle_timeout: z.number().int().min(1).optional().describe('Seconds of silence that end the command.'),
        nonce: z.string().optional().describe('A new value runs an identical latest command again instead of replaying it.'),
        tty: z.literal(1).optional().describe('1: run it on a terminal (prompts, REPLs, ssh, full-screen programs); then type with stdin, look with screen.'),
        cols: z.number().int().min(20).max(500).optional().describe('With tty: the terminal width (default 120).'),
        rows: z.number().int().min(5).max(200).optional().describe('With tty: the terminal height (default 40).'),
      },
      annotations: { destructiveHint: true, openWorldHint: true },
    },
    (args, extra) => result(() => shellAnswer(contextOf(extra), query(args))),
  );
  server.registerTool(
    'callback',
    {
      description: `Read a ticket: its status, exit code and output so far. wait=N (up to ${maxWait} s) returns as soon as it finishes. offset and limit page through a long output.`,
      inputSchema: {
        session: SESSION,
        ticket: TICKET,
        wait: waitArg(maxWait),
        offset: z.number().int().min(0).optional().describe('Byte offset into the stored output.'),
        limit: z.number().int().min(1).optional().describe('Bytes to show from offset.'),
        input: z.enum(['full']).optional().describe('full: the whole command, when the answer shows only its first KiB.'),
      },
      annotations: { readOnlyHint: true },
    },
    (args, extra) => result(() => callbackAnswer(contextOf(extra), query(args))),
  );
  server.registerTool(
    'history',
    {
      description: 'Every ticket of a session in order, each with at most a page of its output; after=N keeps the tickets above N.',
      inputSchema: { session: SESSION, after: z.number().int().min(0).optional().describe('Only tickets numbered above this.') },
      annotations: { readOnlyHint: true },
    },
    (args, extra) => result(() => historyAnswer(contextOf(extra), query(args))),
  );
  server.registerTool(
    'cancel',
    {
      description: 'Stop a queued or running ticket and every process it started.',
      inputSchema: { session: SESSION, ticket: TICKET },
      annotations: { destructiveHint: true },
    },
    (args, extra) => result(() => cancelAnswer(contextOf(extra), query(args))),
  );
  server.registerTool(
    'stdin',
    {
      description: 'Type into a running tty=1 command\'s terminal. n numbers the writes (1 first; a repeated n types nothing). The result is the ticket once its output has been quiet, showing what the write produced.',
      inputSchema: {
        session: SESSION,
        ticket: TICKET,
        n: z.number().int().min(1).describe('The number of this write on this ticket: 1, 2, 3 …'),
        text: z.string().optional().describe('What to type: \\r is Enter, \\u0003 Ctrl-C, \\u001b Esc.'),
        eof: z.literal(1).optional().describe('1: then send end-of-file (Ctrl-D).'),
        secret: z.literal(1).optional().describe('1: a password: stored nowhere.'),
        wait: waitArg(maxWait),
      },
      annotations: { destructiveHint: true },
    },
    (args, extra) => result(() => stdinAnswer(contextOf(extra), query(args))),
  );
  server.registerTool(
    'screen',
    {
      description: 'The screen of a tty=1 command, now (or last, once it ended), rendered by a terminal emulator: for full-screen programs such as top, less or vi.',
      inputSchema: { session: SESSION, ticket: TICKET },
      annotations: { readOnlyHint: true },
    },
    (args, extra) => result(() => screenAnswer(contextOf(extra), query(args))),
  );
  server.registerTool(
    'read_file',
    {
      description: `Read a file of the host, as the session's command user, after its running command. Text comes as UTF-8, anything else as base64; at most ${READ_FILE_MAX_BYTES} bytes a call (offset and limit read further).`,
      inputSchema: {
        session: SESSION,
        path: z.string().min(1).max(4096).describe("The file: absolute, or relative to the session's working directory."),
        offset: z.number().int().min(0).optional().describe('Byte offset into the file.'),
        limit: z.number().int().min(1).optional().describe('Bytes to read from offset.'),
      },
      annotations: { readOnlyHint: true },
    },
    (args, extra) => result(() => readFileAnswer(contextOf(extra), requireSession(query({ session: args.session })), requirePath(query({ path: args.path })), args.offset ?? 0, args.limit)),
  );
  server.registerTool(
    'write_file',
    {
      description: 'Write a file on the host, as the session\'s command user, after its running command: put in place atomically (a temp file beside it, renamed over it). Give content (text) or content64 (base64).',
      inputSchema: {
        session: SESSION,
        path: z.string().min(1).max(4096).describe("The file: absolute, or relative to the session's working directory."),
        content: z.string().optional().describe('The whole file as text (UTF-8).'),
        content64: z.string().optional().describe('The whole file as base64, for binary files.'),
        mode: z.string().optional().describe('Permission bits in octal, default 644.'),
      },
      annotations: { destructiveHint: true },
    },
    (args, extra) => result(() => writeFileAnswer(contextOf(extra), args)),
  );
  server.registerTool(
    'sessions',
    { description: 'List the sessions, newest first, with their ticket counts and whether they are busy.', annotations: { readOnlyHint: true } },
    (extra) => result(() => sessionsAnswer(contextOf(extra), new Map())),
  );
  return server;
}
