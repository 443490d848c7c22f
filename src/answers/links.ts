// Ready URLs: the links an answer hands out for the next step, each carrying the asker's token
// (never a key), and the cursor that makes every poll URL new so that no cache can replay it.
import type { Access } from '../auth/tokens.js';
import type { ViewContext } from './viewContext.js';

function url(ctx: ViewContext, path: string, session: string, params: string, access?: Access): string {
  // Session names are letters, digits, _ and -: nothing in them needs encoding.
  return `${ctx.fqdn}${path}?${ctx.credential(session, access)}&session=${session}${params}`;
}

/** Makes cursors: a time and a counter, so no two answers (even across restarts) share one. */
export function cursorMaker(now: () => number = Date.now): () => string {
  let counter = 0;
  return () => {
    counter = (counter + 1) % 1296;
    return `${now().toString(36)}${counter.toString(36).padStart(2, '0')}`;
  };
}

/**
 * How long to wait before asking again, growing with how long the ticket has run, so that a
 * model polls often for quick commands and rarely for long ones. Capped by MAX_WAIT.
 */
export function suggestedWait(elapsedMs: number, maxWait: number): number {
  const seconds = elapsedMs < 10_000 ? 10 : elapsedMs < 60_000 ? 20 : 30;
  return Math.max(1, Math.min(seconds, maxWait));
}

/** The ticket view's URL; each one handed out carries a new cursor, so no cache can replay it. */
export function callbackUrl(ctx: ViewContext, session: string, ticket: number, extra = ''): string {
  return url(ctx, '/callback', session, `&ticket=${ticket}${extra}&cursor=${ctx.cursor()}`);
}

/** A window of the stored output: `limit` bytes from `offset`. */
export function pageUrl(ctx: ViewContext, session: string, ticket: number, offset: number, limit: number): string {
  return callbackUrl(ctx, session, ticket, `&offset=${offset}&limit=${limit}`);
}

export function cancelUrl(ctx: ViewContext, session: string, ticket: number): string {
  return url(ctx, '/cancel', session, `&ticket=${ticket}`);
}

/** A prefix for the next command in a session: append the URL-encoded command. */
export function shellUrl(ctx: ViewContext, session: string): string {
  return url(ctx, '/shell', session, `&wait=${Math.min(25, ctx.maxWait)}&cmd=`);
}

export function historyUrl(ctx: ViewContext, session: string): string {
  return url(ctx, '/history', session, '');
}

/** A read-only link to the session's live page: it can neither submit nor cancel. */
export function viewUrl(ctx: ViewContext, session: string): string {
  return url(ctx, '/view', session, '', 'read');
}

/**
 * A pending ticket's approval links, each carrying an approval token for that one ticket: POST
 * them to decide; a GET only shows the command. Given to the operator only.
 */
export function approvalUrls(fqdn: string, session: string, ticket: number, token: string): { readonly approve: string; readonly deny: string } {
  const query = `?token=${token}&session=${session}&ticket=${ticket}`;
  return { approve: `${fqdn}/approve${query}`, deny: `${fqdn}/deny${query}` };
}

/** A prefix for the next write to a tty=1 ticket's terminal: append the URL-encoded text. */
export function stdinUrl(ctx: ViewContext, session: string, ticket: number, n: number): string {
  return url(ctx, '/stdin', session, `&ticket=${ticket}&n=${n}&text=`);
}
