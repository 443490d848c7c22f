// What answers say, in the words of the front that reads them: the next steps (URLs to GET by
// their field names in JSON, by their labels in a text transcript, tools to call over MCP), how
// a ticket ended, and what to do about output that is not shown or was not stored. The one place
// an answer's advice is worded.
import type { FinishedMeta } from '../protocol/types.js';
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
  };
}

/** URLs to GET, named as the answer names them: JSON fields, or a transcript's labels. */
function getSteps(session: string, link: (field: 'poll' | 'cancel' | 'next_page' | 'shell') => string): Steps {
  return {
    nextCommand: `Next command: GET ${link('shell')} with it URL-encoded after cmd=.`,
    poll: (wait) => `GET ${link('poll')}: it answers when the command finishes, or after ${wait} s.`,
    cancel: `GET ${link('cancel')} to stop it.`,
    nextPage: `Part of the stored output is not shown: GET ${link('next_page')} for it.`,
    runAgain: 'To run the command again, add &nonce=<any new value>.',
    keepSession: `Keep &session=${session} on later commands to keep this shell's directory and variables.`,
    stillPoll: `GET ${link('poll')}.`,
    readOmitted: `GET ${link('next_page')} to read them`,
  };
}

/** The labels a text transcript gives its links (transcripts.ts prints them so). */
export const TEXT_LINK_LABELS = { poll: 'Poll', cancel: 'Cancel', next_page: 'Next page', shell: 'Shell' } as const;

/** The next steps of one ticket, worded for `front`. */
export function stepsFor(front: Front | undefined, session: string, ticket: number): Steps {
  if (front === 'mcp') return mcpSteps(session, ticket);
  if (front === 'text') return getSteps(session, (field) => `the ${TEXT_LINK_LABELS[field]} link`);
  return getSteps(session, (field) => field);
}

/** How a finished ticket ended, in a sentence: the start of its `next`. */
export function describeEnd(record: FinishedMeta): string {
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
  }
}

/** What a truncated first view says about the bytes that are gone. */
export function droppedAdvice(dropped: number): string {
  return ` ${dropped} bytes in the middle of the output were not stored (gone for good): to see them, re-run the command through grep, sed -n or tail, or write its output to a file and read that in parts.`;
}

/** The notice set where the middle of a long output is left out of a view. */
export function omittedNotice(omitted: number, from: number, to: number, stored: number, steps: Steps): string {
  return `\n\n[llmass: ${omitted} stored bytes not shown here (bytes ${from} to ${to} of ${stored}); ${steps.readOmitted}.]\n\n`;
}
