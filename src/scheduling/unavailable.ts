// Why the scheduler takes no new ticket: the queue is full or the server is stopping
// (SchedulerUnavailable), or the sessions disk has no room or fails (StorageUnavailable). Domain
// errors: the edge (http/domainErrors.ts) turns them into 503 and 507 answers.
import { errorCode, isDiskFull } from '../storage/safeFiles.js';

export class SchedulerUnavailable extends Error {
  constructor(
    readonly reason: 'queue-full' | 'shutting-down',
    readonly retryAfterSeconds: number,
    /** The queue's bound (MAX_QUEUE), when it is full. */
    readonly limit?: number,
  ) {
    super(reason === 'queue-full' ? 'the queue is full' : 'the server is shutting down');
  }
}

/** The sessions disk cannot take a new ticket: full (or under MIN_FREE_BYTES), or failing. */
export class StorageUnavailable extends Error {
  constructor(
    readonly reason: 'full' | 'failed',
    readonly detail: string,
  ) {
    super(reason === 'full' ? 'the sessions disk is full' : `the sessions disk cannot be written (${detail})`);
  }
}

export function storageError(error: unknown): StorageUnavailable {
  if (isDiskFull(error)) return new StorageUnavailable('full', errorCode(error));
  return new StorageUnavailable('failed', errorCode(error));
}
