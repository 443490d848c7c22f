// How a ticket ended, from what its run came to (RunOutcome): its final status, exit code,
// timeout kind and reason, and the notes added to its output (a limit it hit, processes a stop
// could not end, an interruption). Pure: the final record is built here and stored elsewhere.
import type { Config } from '../config/config.js';
import type { Approval, FinalStatus, FinishedTicket, QueuedTicket, Screen, TimeoutKind } from '../protocol/types.js';
import { PRELUDE_FILE } from '../running/prelude.js';
import type { RunOutcome } from '../running/shellProcess.js';
import { finalRecord } from '../storage/recordFields.js';
import { storedText, type OutputSpool } from '../storage/spool.js';

/**
 * The final record of a ticket that never started (canceled or interrupted while queued, or
 * denied while pending): `note` is its output; a denial carries its reason and decision.
 */
export function endedBeforeStart(queued: QueuedTicket, status: 'canceled' | 'interrupted' | 'denied', note: string, denial?: { readonly reason: string; readonly approval: Approval }): FinishedTicket {
  return finalRecord(queued, {
    ...(denial === undefined ? {} : denial),
    status,
    startedAt: null,
    finishedAt: new Date(),
    exitCode: null,
    signal: null,
    timeoutKind: null,
    output: note,
    outputBytes: 0,
    truncated: false,
    droppedBytes: 0,
    background: [],
  });
}

/** The final record of a ticket whose run came to `outcome`, with the output its spool kept. */
export function endingRecord(
  queued: QueuedTicket,
  startedAt: Date,
  outcome: RunOutcome,
  spool: OutputSpool,
  config: Config,
  terminal: { readonly screen: Screen | null; readonly stdinWrites: number } = { screen: null, stdinWrites: 0 },
  /** The kernel ended a process of the ticket for want of memory (its per-ticket limit). */
  oom = false,
): FinishedTicket {
  // Only a command that ran can have been ended for memory; one that never started says why not.
  const reason = reasonOf(outcome) ?? (oom ? 'oom' : undefined);
  return finalRecord(queued, {
    status: statusOf(outcome),
    startedAt,
    finishedAt: new Date(),
    // Only a command known to have run has an exit code of its own.
    exitCode: outcome.kind === 'exited' || outcome.kind === 'stopped' ? outcome.exitCode : null,
    signal: outcome.kind === 'exited' || outcome.kind === 'stopped' ? outcome.signal : null,
    timeoutKind: timeoutKindOf(outcome),
    output: withLimitNote(storedText(spool), outcome, config) + endNote(outcome) + (oom ? `\n[llmass: the kernel ended a process of this command for memory: its processes together may use COMMAND_MAX_MEMORY (${config.commandMaxMemory} bytes)]\n` : ''),
    outputBytes: spool.total,
    truncated: spool.truncated,
    droppedBytes: spool.dropped,
    background: outcome.kind === 'exited' ? outcome.background : [],
    screen: terminal.screen,
    stdinWrites: terminal.stdinWrites,
    ...(reason === undefined ? {} : { reason }),
  });
}

const PROCESS_LIMIT_HIT = /fork: (retry: )?Resource temporarily unavailable|Resource temporarily unavailable|Cannot fork/;
const MEMORY_LIMIT_HIT = /Cannot allocate memory|MemoryError|[Oo]ut of memory|bad_alloc|memory exhausted|allocation failed/;

/**
 * A command that failed for want of a process or of memory gets a line naming the limit it
 * hit, from the messages such failures print: the kernel only tells the process itself.
 */
function withLimitNote(output: string, outcome: RunOutcome, config: Config): string {
  if (outcome.kind === 'failed' || outcome.kind === 'never-started' || (outcome.kind === 'exited' && outcome.exitCode === 0)) return output;
  let note = '';
  if (PROCESS_LIMIT_HIT.test(output)) {
    note += `\n[llmass: the command could not start more processes: it hit COMMAND_MAX_PROCESSES (${config.commandMaxProcesses} processes for the command user)]\n`;
  }
  if (MEMORY_LIMIT_HIT.test(output)) {
    note += `\n[llmass: the command could not get more memory: it hit COMMAND_MAX_MEMORY (${config.commandMaxMemory} bytes per process)]\n`;
  }
  return output + note;
}

/** Why a ticket ended `error`, in words: said in its view's `reason` and `next`. */
function reasonOf(outcome: RunOutcome): string | undefined {
  if (outcome.kind === 'failed') return outcome.message;
  if (outcome.kind !== 'never-started') return undefined;
  const how = outcome.signal !== null ? `was killed by ${outcome.signal}` : `exited with code ${outcome.exitCode ?? '?'}`;
  return (
    `nothing ran: the shell ${how} before the prelude (${PRELUDE_FILE}) took the command, usually because the command user cannot read it. ` +
    'Tell the operator: /healthz and the server log say which step fails and how to fix it.'
  );
}

function endNote(outcome: RunOutcome): string {
  if (outcome.kind === 'failed') return `[llmass: ${outcome.message}]\n`;
  if (outcome.kind === 'never-started') return `\n[llmass: ${reasonOf(outcome) ?? ''}]\n`;
  let note = '';
  // Said, not hidden: a stop that could not end everything did not end everything.
  if (outcome.kind === 'stopped' && outcome.survivors > 0) note += `\n[llmass: ${outcome.survivors} process(es) of this command did not end after TERM and KILL (stuck in the kernel); they may still run]\n`;
  if (outcome.kind === 'stopped' && outcome.reason === 'interrupted') note += `\n[llmass: interrupted: ${outcome.cause ?? 'the server was stopped'} while this command ran]\n`;
  return note;
}

function statusOf(outcome: RunOutcome): FinalStatus {
  switch (outcome.kind) {
    case 'exited':
      return 'done';
    case 'failed':
    case 'never-started':
      return 'error';
    case 'stopped':
      if (outcome.reason === 'canceled') return 'canceled';
      if (outcome.reason === 'interrupted') return 'interrupted';
      return 'timeout';
  }
}

function timeoutKindOf(outcome: RunOutcome): TimeoutKind | null {
  if (outcome.kind !== 'stopped') return null;
  if (outcome.reason === 'timeout-hard') return 'hard';
  if (outcome.reason === 'timeout-idle') return 'idle';
  return null;
}
