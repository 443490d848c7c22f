// /stdin and /screen: a running tty=1 ticket's terminal. A write is numbered (n), so that a
// re-fetched URL never types twice; its answer is the ticket view held until the program has
// gone quiet, showing what the write produced. /screen is what the terminal shows now (or, once
// the ticket has ended, last showed), rendered by a terminal emulator.
import { isFinished, type Screen, type TicketView } from '../../protocol/types.js';
import { ticketView } from '../../answers/ticketViews.js';
import { textTranscript } from '../../answers/transcripts.js';
import { optionalBase64, optionalFlag } from '../fileParams.js';
import { HttpError } from '../httpError.js';
import { optionalFormat, optionalWait, optionalWhole } from '../params.js';
import type { Query } from '../query.js';
import type { Answer, AnswerContext, Handler } from '../requestContext.js';
import { sendJson, sendText } from '../respond.js';
import { outputPlan, requireTicketRecord, requireTicketParams } from './lookups.js';

/** The most one write carries. */
export const MAX_WRITE_BYTES = 64 * 1024;

/** The text of a write: `text` (decoded once) or `text64`; both is a 400. */
function writeText(query: Query): Buffer {
  const text = query.get('text');
  const text64 = query.has('text64') ? optionalBase64(query, 'text64', MAX_WRITE_BYTES) : undefined;
  if (text !== undefined && text64 !== undefined) throw new HttpError(400, 'both text and text64 are given', 'give the input once: text= (URL-encoded; %0D is Enter, %03 Ctrl-C) or text64= (base64)');
  const bytes = text64 ?? Buffer.from(text ?? '', 'utf8');
  if (bytes.length > MAX_WRITE_BYTES) throw new HttpError(413, `the write is larger than ${MAX_WRITE_BYTES / 1024} KiB`, 'send it in several writes, or write it to a file with /upload');
  return bytes;
}

export interface StdinAnswer extends TicketView {
  /** True when this write was accepted before (the same n and text): nothing was typed again. */
  replay: boolean;
}

export async function stdinAnswer(ctx: AnswerContext, query: Query): Promise<Answer<StdinAnswer>> {
  const { deps } = ctx;
  const { session, ticket } = await requireTicketParams(ctx, query);
  const nRaw = optionalWhole(query, 'n', 'n is the number of this write on this ticket: 1 for the first, then the stdin URL of the last answer');
  if (nRaw === undefined || nRaw < 1) throw new HttpError(400, 'n is missing', 'add &n=1 for the first write to this ticket; each answer\'s stdin URL carries the next n');
  const text = writeText(query);
  const eof = optionalFlag(query, 'eof');
  const secret = optionalFlag(query, 'secret');
  const quiet = optionalWhole(query, 'quiet', 'quiet is milliseconds of silence, at most 10000') ?? 300;
  if (quiet > 10_000) throw new HttpError(400, `quiet=${quiet} is more than 10000 ms`, 'give quiet from 0 to 10000 milliseconds');
  const wait = query.has('wait') ? optionalWait(query, ctx.maxWait ?? deps.config.maxWait) : { seconds: Math.min(5, ctx.maxWait ?? deps.config.maxWait) };
  const written = deps.scheduler.terminals.write(session, ticket, nRaw, text, eof);
  if (written.kind === 'not-running' || written.kind === 'no-terminal') {
    const found = await requireTicketRecord(deps, session, ticket, outputPlan(deps));
    const why =
      found.meta.status === 'queued'
        ? 'it is still queued: wait until it runs (GET its poll URL)'
        : isFinished(found.meta)
          ? `it has ended (${found.meta.status}): nothing reads its input any more`
          : 'it runs without a terminal: its stdin is /dev/null. Run it again with &tty=1 to type into it';
    throw new HttpError(409, `ticket ${ticket} takes no input: ${why}`, 'only a running ticket started with tty=1 takes input');
  }
  if (written.kind === 'conflict') {
    throw new HttpError(
      409,
      written.reason === 'gap' ? `write ${nRaw} comes before write ${written.expected}` : `write ${nRaw} was accepted before with other text`,
      `the next write to this ticket is n=${written.expected} (the stdin URL of the last answer carries it); nothing was typed`,
    );
  }
  // Written, not replayed: one audit line per write that typed something.
  if (written.kind === 'written') deps.audit.record({ event: 'stdin', client: ctx.client, key: ctx.principal?.key ?? 'HASH', session, ticket, n: nRaw, text: secret ? `[secret input, ${text.length} bytes]` : text.toString('utf8') + (eof ? '[eof]' : '') });
  if (written.kind === 'written') await deps.scheduler.terminals.waitQuiet(session, ticket, quiet, wait.seconds * 1000, ctx.signal);
  const window = { offset: written.offset, limit: deps.config.outputViewBytes };
  const found = await requireTicketRecord(deps, session, ticket, { kind: 'window', ...window });
  const view = ticketView(ctx.view, found, found.output.storedBytes > written.offset ? { window } : {});
  const json: StdinAnswer = { ...view, replay: written.kind === 'replay' };
  return { json, text: (shown = json) => textTranscript(shown) };
}

export const stdin: Handler = async (ctx) => {
  const answer = await stdinAnswer(ctx, ctx.query);
  if (optionalFormat(ctx.query, ['json', 'text'] as const) === 'text') sendText(ctx.req, ctx.res, 200, answer.text());
  else sendJson(ctx.req, ctx.res, 200, answer.json);
};

export interface ScreenAnswer extends Screen {
  type: 'screen';
  ticket: number;
  session: string;
  status: string;
}

export async function screenAnswer(ctx: AnswerContext, query: Query): Promise<Answer<ScreenAnswer>> {
  const { deps } = ctx;
  const { session, ticket } = await requireTicketParams(ctx, query);
  optionalFormat(query, ['json', 'text'] as const);
  const found = await requireTicketRecord(deps, session, ticket, outputPlan(deps));
  const screen = (await deps.scheduler.terminals.screen(session, ticket)) ?? (isFinished(found.meta) ? found.meta.screen : null);
  if (screen === null || screen === undefined) {
    const why = found.meta.status === 'queued' ? 'it is still queued' : found.meta.tty === null ? 'it was not started with tty=1' : 'its screen was not kept';
    throw new HttpError(409, `ticket ${ticket} has no screen: ${why}`, 'run a command with &tty=1 to have a terminal whose screen can be read');
  }
  const json: ScreenAnswer = { type: 'screen', ticket, session, status: found.meta.status, ...screen };
  return { json, text: (shown = json) => `${shown.lines.join('\n')}\n` };
}

export const screen: Handler = async (ctx) => {
  const answer = await screenAnswer(ctx, ctx.query);
  if (optionalFormat(ctx.query, ['json', 'text'] as const) === 'text') sendText(ctx.req, ctx.res, 200, answer.text());
  else sendJson(ctx.req, ctx.res, 200, answer.json);
};
