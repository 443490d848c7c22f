// What answers say, in the words of the front that reads them: the next steps (URLs to GET by
// their field names in JSON, by their labels in a text transcript, tools to call over MCP), how
// a ticket ended, and what to do about output that is not shown or was not stored. The one place
// an answer's advice is worded.
import type { FinishedMeta, QueuedBehind } from '../protocol/types.js';
import type { Front } from './viewContext.js';

/** The next steps a ticket's answer may name. */
export interface Steps {
  readonly nextCommand: string;
  readonly poll: (wait: number) => string;
  readonly cancel: string;
  readonly nextPage: string;
  readonly runAgain: string;
  readonly keepSession: string;
  readonly stillPoll: string;
  /** Inside the output, where its middle is left out: how to read that part. */
  readonly readOmitted: string;
  /** After the first KiB of a long command: how to see all of it. */
  readonly wholeInput: string;
  /** A program on a terminal: how to type into it and see it. */
  readonly typeInto: string;
}

function mcpSteps(session: string, ticket: number): Steps {
  return {
    nextCommand: `Next command: call shell with session ${session}.`,
    poll: (wait) => `Call callback with session ${session}, ticket ${ticket} and wait=${wait}: it returns when the command finishes, or after ${wait} s.`,
    cancel: 'Call cancel to stop it.',
    nextPage: 'Part of the stored output is not shown: call callback with offset and limit for it.',
    runAgain: 'To run the command again, give a new nonce.',
    keepSession: `Keep session ${session} on later commands to keep this shell's directory and variables.`,
    stillPoll: 'Call callback again.',
    readOmitted: `call callback with session ${session}, ticket ${ticket}, offset and limit to read them`,
    wholeInput: `call callback with session ${session}, ticket ${ticket} and input "full" for all of it`,
    typeInto: `Call stdin with session ${session}, ticket ${ticket} and text (\\r for Enter, \\u0003 for Ctrl-C), or screen to see a full-screen program.`,
  };
}

/** URLs to GET, named as the answer names them: JSON fields, or a transcript's labels. */
function getSteps(session: string, link: (field: 'poll' | 'cancel' | 'next_page' | 'shell' | 'stdin') => string): Steps {
  return {
    nextCommand: `Next command: GET ${link('shell')} with it URL-encoded after cmd=.`,
    poll: (wait) => `GET ${link('poll')}: it answers when the command finishes, or after ${wait} s.`,
    cancel: `GET ${link('cancel')} to stop it.`,
    nextPage: `Part of the stored output is not shown: GET ${link('next_page')} for it.`,
    runAgain: 'To run the command again, add &nonce=<any new value>.',
    keepSession: `Keep &session=${session} on later commands to keep this shell's directory and variables.`,
    stillPoll: `GET ${link('poll')}.`,
    readOmitted: `GET ${link('next_page')} to read them`,
    wholeInput: 'add &input=full to the ticket\'s callback URL for all of it',
    typeInto: `To type into it, GET ${link('stdin')} with the text URL-encoded (%0D is Enter, %03 Ctrl-C); /screen shows a full-screen program.`,
  };
}

/** The labels a text transcript gives its links (transcripts.ts prints them so). */
export const TEXT_LINK_LABELS = { poll: 'Poll', cancel: 'Cancel', next_page: 'Next page', shell: 'Shell', stdin: 'Stdin' } as const;

/** The next steps of one ticket, worded for `front`. */
export function stepsFor(front: Front | undefined, session: string, ticket: number): Steps {
  if (front === 'mcp') return mcpSteps(session, ticket);
  if (front === 'text') return getSteps(session, (field) => `the ${TEXT_LINK_LABELS[field]} link`);
  return getSteps(session, (field) => field);
}

/** How a finished ticket ended, in a sentence: the start of its `next`. */
export function describeEnd(record: FinishedMeta): string {
  const ended = endOf(record);
  return record.reason === 'oom' ? `${ended} The kernel ended a process of it for memory (reason oom): its processes together may use COMMAND_MAX_MEMORY; use less at once, or ask the operator for more.` : ended;
}

function endOf(record: FinishedMeta): string {
  switch (record.status) {
    case 'done':
      if (record.exit_code === null) return `Done: the shell was killed by ${record.signal ?? 'a signal'}.`;
      return record.exit_code === 0 ? 'Done, exit 0.' : `Done, exit ${record.exit_code}: a failure; the output says why.`;
    case 'timeout':
      return record.timeout_kind === 'idle'
        ? `Ended after ${record.idle_timeout ?? '?'} s without output (idle timeout); output so far kept.`
        : `Ended at its ${record.timeout} s time limit; output so far kept. For long work: nohup cmd > out.log 2>&1 &, then read out.log.`;
    case 'canceled':
      return 'Canceled; output so far kept.';
    case 'interrupted':
      return 'Interrupted: the server stopped while this ran, so it may not have completed. Check its effects before running it again.';
    case 'error':
      return record.reason === null ? 'Could not be started; the output says why.' : `Error: ${record.reason}`;
    case 'denied':
      return `Denied, not run (${record.reason ?? 'no reason given'}). Do not submit it again unchanged: ask the operator, or do the task another way.`;
  }
}

/** What a pending ticket's `next` says: it waits for a person, and what the agent can do meanwhile. */
export function describePending(timeoutSeconds: number): string {
  return `Pending: this command waits for the operator's approval before it is queued (at most ${timeoutSeconds} s; undecided by then, it is denied). Nothing has run yet. Poll it as usual: it shows queued, then running, once approved, or denied with the reason.`;
}

/** What a truncated first view says about the bytes that are gone. */
export function droppedAdvice(dropped: number): string {
  return ` ${dropped} bytes in the middle of the output were not stored (gone for good): to see them, re-run the command through grep, sed -n or tail, or write its output to a file and read that in parts.`;
}

/** The notice set where the middle of a long output is left out of a view. */
export function omittedNotice(omitted: number, from: number, to: number, stored: number, steps: Steps): string {
  return `\n\n[llmass: ${omitted} stored bytes not shown here (bytes ${from} to ${to} of ${stored}); ${steps.readOmitted}.]\n\n`;
}

function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th';
  return `${n}${suffix}`;
}

/** Why a queued ticket waits and where it stands: the start of its `next`. */
export function describeQueued(position: number, behind: QueuedBehind): string {
  const place = `Queued, ${ordinal(position)} to start`;
  if (behind.kind === 'session') return `${place}: ticket ${behind.ticket} of this session runs first (a session runs one command at a time).`;
  if (behind.running < behind.max_concurrency) return `${place}: it starts now.`;
  return `${place}: all ${behind.max_concurrency} command slots (MAX_CONCURRENCY) are busy, with session(s) ${behind.sessions.join(', ')}.`;
}

/** How long ago, in whole seconds (never negative). */
export function secondsAgo(then: number, now: number): number {
  return Math.max(0, Math.round((now - then) / 1000));
}

/**
 * What a replayed submission says first: that nothing ran again, which ticket it is, when that
 * was asked (and, finished, when it ended), and how to run the command again.
 */
export function describeReplay(ticket: number, session: string, madeAgo: number, endedAgo: number | null, steps: Steps): string {
  const ended = endedAgo === null ? '' : ` It ended ${endedAgo} s ago: this is that result, not a new one.`;
  return `Not run again: this is a replay of ticket ${ticket}, the same request made ${madeAgo} s ago in session ${session}.${ended} ${steps.runAgain}`;
}

const CUT_BY_HASH = /unexpected EOF while looking for matching|syntax error: unexpected end of file/;

/**
 * A shell syntax error at the end of the command: most often the URL was cut by an unencoded #
 * (the rest is a fragment, never sent); said to agents that build URLs, not to MCP clients.
 */
export function cutCommandAdvice(record: FinishedMeta, output: string): string {
  if (record.status !== 'done' || record.exit_code !== 2 || !CUT_BY_HASH.test(output)) return '';
  return ' If the command held a # (or a quote after one), encode it as %23: an unencoded # ends the URL, and what follows never reached the server.';
}

/** What a list of sessions says to do next. */
export function describeSessions(front: Front | undefined, count: number): string {
  if (front === 'mcp') {
    return count === 0 ? 'No sessions yet. Call shell with a command (and no session) to start one.' : 'Call history with a session for its tickets, or shell with a session to run a command there.';
  }
  return count === 0
    ? 'No sessions yet. GET /shell with a command (and no session=) to start one.'
    : "GET a session's history URL for its tickets, its view URL for a live page, or its shell URL plus a URL-encoded command to run one there.";
}

/** How long a program on a terminal has printed nothing: past this, it may wait for input. */
export const SEEMS_WAITING_MS = 1000;

/** What a running program on a terminal seems to be doing, from its quiet. */
export function describeTerminal(quietMs: number): string {
  if (quietMs < SEEMS_WAITING_MS) return 'It runs on a terminal.';
  return `It has printed nothing for ${Math.round(quietMs / 100) / 10} s: it may be waiting for input (a prompt, a password, a key).`;
}
