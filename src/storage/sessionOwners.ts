// Who a session belongs to: the key that made it, and the user its commands run as (that key's
// user= then, or null for COMMAND_USER). Kept in SESSIONS_DIR/<session>/.owner (JSON, mode 0600),
// claimed once, when the session is made, before its first ticket: link(2) of a finished temp
// file, so two claims can never both win and no reader sees half of one. Read back checked, and
// never through a symlink. A session without one (made by an older version) belongs to the key
// of its first ticket; one whose file is damaged belongs to the operator alone.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { errorCode, isMissing, openRegularSync } from './safeFiles.js';
import type { SessionLayout } from './sessionLayout.js';

export interface SessionOwner {
  readonly key: string;
  readonly user: string | null;
}

/** The owner of sessions whose file is damaged, and of older ones with no ticket to tell: the operator. */
const OPERATOR_ONLY: SessionOwner = { key: 'HASH', user: null };
const MAX_OWNER_BYTES = 4096;

function checked(value: unknown): SessionOwner | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { key, user } = value as { key?: unknown; user?: unknown };
  if (typeof key !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(key)) return undefined;
  if (user !== null && (typeof user !== 'string' || !/^[a-z_][a-z0-9_-]{0,31}\$?$/i.test(user))) return undefined;
  return { key, user };
}

export class SessionOwners {
  private readonly owners = new Map<string, SessionOwner>();

  constructor(
    private readonly layout: SessionLayout,
    /** The key of the session's first readable ticket, for sessions older than owner files. */
    private readonly firstTicketKey: (session: string) => Promise<string | undefined>,
    private readonly onDamaged: (session: string, problem: string) => void,
  ) {}

  /** The owner, if it has been read already (what starting a command needs, synchronously). */
  known(session: string): SessionOwner | undefined {
    return this.owners.get(session);
  }

  /** The owner of an existing session directory (read once, then kept in memory). */
  async ownerOf(session: string): Promise<SessionOwner> {
    const known = this.owners.get(session);
    if (known !== undefined) return known;
    const owner = this.read(session) ?? { key: (await this.firstTicketKey(session)) ?? OPERATOR_ONLY.key, user: null };
    // A claim that came in meanwhile is the truth.
    const raced = this.owners.get(session);
    if (raced !== undefined) return raced;
    this.owners.set(session, owner);
    return owner;
  }

  /**
   * Claims a freshly made session for `owner`, unless it has an owner already; returns who owns
   * it now. Synchronous from the check to the link, so that within this server two claims
   * cannot interleave, and link(2) fails for the second of two servers too.
   */
  claim(session: string, owner: SessionOwner): SessionOwner {
    const known = this.owners.get(session) ?? this.read(session);
    if (known !== undefined) {
      this.owners.set(session, known);
      return known;
    }
    const file = this.layout.ownerFile(session);
    const temp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    try {
      fs.writeFileSync(temp, JSON.stringify(owner), { mode: 0o600, flag: 'wx' });
      fs.linkSync(temp, file);
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
      return this.ownerAfterRace(session);
    } finally {
      fs.rmSync(temp, { force: true });
    }
    this.owners.set(session, owner);
    return owner;
  }

  private ownerAfterRace(session: string): SessionOwner {
    const owner = this.read(session) ?? OPERATOR_ONLY;
    this.owners.set(session, owner);
    return owner;
  }

  /** The owner file's owner; undefined when there is none; the operator alone when it is damaged. */
  private read(session: string): SessionOwner | undefined {
    let fd: number;
    try {
      fd = openRegularSync(this.layout.ownerFile(session));
    } catch (error) {
      if (isMissing(error)) return undefined;
      this.onDamaged(session, error instanceof Error ? error.message : String(error));
      return OPERATOR_ONLY;
    }
    try {
      const text = fs.fstatSync(fd).size > MAX_OWNER_BYTES ? '' : fs.readFileSync(fd, 'utf8');
      const owner = checked(JSON.parse(text));
      if (owner !== undefined) return owner;
      this.onDamaged(session, 'it is not an owner record');
    } catch {
      this.onDamaged(session, 'it is not JSON');
    } finally {
      fs.closeSync(fd);
    }
    return OPERATOR_ONLY;
  }

  /** Forgets what was read (a test's or an operator's change on disk is read anew). */
  forget(session: string): void {
    this.owners.delete(session);
  }
}
