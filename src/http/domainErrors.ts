// Where domain errors become answers: every error a module below the edge throws (a refused
// credential, a full queue, a disk without room, a damaged record) gets its status, message and
// hint here, and nowhere else.
import { AuthRefused, type RefusalKind } from '../auth/refusals.js';
import { SchedulerUnavailable, type StorageUnavailable } from '../scheduling/unavailable.js';
import { SessionTaken } from '../scheduling/admission.js';
import type { FileRefusal } from '../running/fileHelpers.js';
import { HttpError } from './httpError.js';

const REFUSAL_STATUS: Readonly<Record<RefusalKind, number>> = { missing: 401, wrong: 401, locked: 429, forbidden: 403 };

/** The answer to an error with no context of its own to add; undefined for one that is not a domain error. */
export function answerFor(error: unknown): HttpError | undefined {
  if (error instanceof HttpError) return error;
  if (error instanceof AuthRefused) {
    const headers: Record<string, string> = error.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(error.retryAfterSeconds) };
    return new HttpError(REFUSAL_STATUS[error.kind], error.message, error.hint, headers);
  }
  if (error instanceof SchedulerUnavailable) {
    const hint =
      error.reason === 'queue-full'
        ? `${error.limit} tickets are already waiting; try again in ${error.retryAfterSeconds} s, or cancel tickets you no longer need`
        : `the server is restarting; try again in ${error.retryAfterSeconds} s`;
    return new HttpError(503, error.message, hint, { 'Retry-After': String(error.retryAfterSeconds) });
  }
  if (error instanceof SessionTaken) {
    return new HttpError(404, error.message, 'choose another name for session=, or leave session= out and a new session is made for you; GET /sessions lists yours');
  }
  return undefined;
}

/**
 * The sessions disk has no room (507) or cannot be written (503). `nothingDone` says what did
 * not happen, so that the agent knows what state it is in.
 */
export function noStorage(error: StorageUnavailable, nothingDone: string): HttpError {
  if (error.reason === 'full') {
    return new HttpError(507, `${error.message} (${error.detail})`, `${nothingDone}. Commands already running still finish. Try again later; the operator must free space on the sessions disk`, {
      'Retry-After': '60',
    });
  }
  return new HttpError(503, error.message, `${nothingDone}. Try again in a minute; tell the operator if it persists`, { 'Retry-After': '60' });
}

/** A ticket whose record on disk is damaged (DamagedRecord): 422, naming the problem, never the bytes. */
export function damagedError(session: string, ticket: number, problem: string): HttpError {
  return new HttpError(
    422,
    `ticket ${ticket} of session ${session} is damaged on disk: ${problem}`,
    `its result cannot be read; the session's other tickets are not affected. Run the command again if you need its result, and tell the operator (the file is ${session}/${ticket}.ticket under SESSIONS_DIR)`,
  );
}

/** What the command user's helper found instead of the file (running/fileHelpers.ts), as an answer. */
export function fileRefused(kind: FileRefusal, path: string, writing: boolean): HttpError {
  const shown = JSON.stringify(path.length > 200 ? `${path.slice(0, 200)}…` : path);
  switch (kind) {
    case 'missing':
      return new HttpError(404, `there is no file ${shown}`, 'check the path (relative paths start in the session\'s working directory): GET /shell with ls or find to look');
    case 'denied':
      return new HttpError(403, `the command user may not ${writing ? 'write' : 'read'} ${shown}`, writing ? 'choose a place the command user may write, such as its home or /tmp' : 'read only what the command user may read; the server\'s own files are out of reach by design');
    case 'directory':
      return new HttpError(400, `${shown} is a directory`, writing ? 'give the path of the file to write, including its name' : 'give a file\'s path; to list a directory, GET /shell with ls');
    case 'special':
      return new HttpError(400, `${shown} is not a regular file (a FIFO, a device or a socket)`, 'read it with a command instead, e.g. head -c 1000 <path>');
    case 'nodir':
      return new HttpError(404, `the directory of ${shown} does not exist`, 'make it first: GET /shell with mkdir -p <directory>; the upload so far is kept, so send done=1 again then');
    case 'nocwd':
      return new HttpError(409, 'the session\'s working directory no longer exists', 'give an absolute path, or change directory with a command first');
    case 'failed':
      return new HttpError(507, `${shown} could not be written (no room, or a failing disk)`, 'free space on the host, then send done=1 again: the upload so far is kept');
    case 'timeout':
      return new HttpError(503, `${shown} did not open in time (a hung file system?)`, 'try again later, or read it with a command and a timeout', { 'Retry-After': '10' });
  }
}
