// The layout of SESSIONS_DIR: the one module that knows which file name means what. The
// store, the runner, shell state and recovery ask it; nobody else builds a path in there.
//
//   SESSIONS_DIR/<session>/<n>.ticket                   a ticket's durable record
//   SESSIONS_DIR/<session>/.<n>.out                      a running ticket's output spool
//   SESSIONS_DIR/<session>/.<n>.ticket.<pid>.<k>.tmp     a record being written (then renamed)
//   SESSIONS_DIR/<session>/.next.ticket.<pid>.<k>.tmp    made ahead for the next ticket's two records
//   SESSIONS_DIR/<session>/.shell-state(.next)           the session's saved shell state
//   SESSIONS_DIR/<session>/.owner                        the key that made it, and its command user
//   SESSIONS_DIR/.llmass/                                the server's private files
import path from 'node:path';

export const SESSION_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** Up to 15 digits: every such number is a safe integer. */
const TICKET_FILE = /^([1-9][0-9]{0,14})\.ticket$/;
const SPOOL_FILE = /^\.([1-9][0-9]{0,14})\.out$/;
const TEMP_FILE = /^\.([1-9][0-9]*|next)\.ticket\..*\.tmp$/;
const STATE_FILE = '.shell-state';
const NEXT_STATE_FILE = '.shell-state.next';

export class SessionLayout {
  private tempCounter = 0;

  constructor(readonly root: string) {}

  /** The server's private directory: the lock and the files it hands to shells. */
  privateDir(): string {
    return path.join(this.root, '.llmass');
  }

  sessionDir(session: string): string {
    // The one assertion at the filesystem boundary: a name that passed the handlers' check
    // cannot hold a separator or start with a dot, so the path stays inside SESSIONS_DIR.
    if (!SESSION_NAME.test(session)) throw new Error(`invalid session name reached the store: ${JSON.stringify(session)}`);
    return path.join(this.root, session);
  }

  ticketFile(session: string, ticket: number): string {
    return path.join(this.sessionDir(session), `${ticket}.ticket`);
  }

  spoolFile(session: string, ticket: number): string {
    return path.join(this.sessionDir(session), `.${ticket}.out`);
  }

  /** A fresh name for writing a record before it is renamed over `<n>.ticket`. */
  tempFile(session: string, ticket: number): string {
    this.tempCounter += 1;
    return path.join(this.sessionDir(session), `.${ticket}.ticket.${process.pid}.${this.tempCounter}.tmp`);
  }

  /** A fresh name for the record of the session's next ticket, made before its number is known. */
  nextTicketTempFile(session: string): string {
    this.tempCounter += 1;
    return path.join(this.sessionDir(session), `.next.ticket.${process.pid}.${this.tempCounter}.tmp`);
  }

  stateFile(session: string): string {
    return path.join(this.sessionDir(session), STATE_FILE);
  }

  ownerFile(session: string): string {
    return path.join(this.sessionDir(session), '.owner');
  }

  nextStateFile(session: string): string {
    return path.join(this.sessionDir(session), NEXT_STATE_FILE);
  }

  /** The ticket number a directory entry holds the record of, if it is a record's name. */
  static ticketOf(name: string): number | undefined {
    const match = TICKET_FILE.exec(name);
    return match?.[1] === undefined ? undefined : Number(match[1]);
  }

  /** The ticket number a directory entry spools the output of, if it is a spool's name. */
  static spoolOf(name: string): number | undefined {
    const match = SPOOL_FILE.exec(name);
    return match?.[1] === undefined ? undefined : Number(match[1]);
  }

  /** Half-written files a crash can leave: safe to remove at start-up. */
  static isDebris(name: string): boolean {
    return TEMP_FILE.test(name) || name === NEXT_STATE_FILE || /^\.owner\..*\.tmp$/.test(name);
  }
}
