// The users commands run as: COMMAND_USER (or the server's own user) for keys without `user=`,
// and each key's own `user=`, looked up once and vetted as COMMAND_USER is (not root, not the
// server's own user, unable to change the server's code). A user that fails is a problem of its
// key's line in KEYS_FILE (the line is left out), never a command run as someone else.
import { ConfigError } from '../config/config.js';
import { resolveCommandUser, type CommandUser } from './commandUser.js';

export class CommandUsers {
  private readonly resolved = new Map<string, CommandUser>();

  constructor(
    /** Who runs the commands of keys without user=: COMMAND_USER, or null (the server's own user). */
    readonly fallback: CommandUser | null,
    /** Throws ConfigError when the user could change what confines it (startupChecks.ts). */
    private readonly vet: (user: CommandUser) => void,
  ) {
    if (fallback !== null) this.resolved.set(fallback.name, fallback);
  }

  /** The user named (null: the fallback). Throws ConfigError when it cannot run commands. */
  resolve(name: string | null): CommandUser | null {
    if (name === null) return this.fallback;
    const known = this.resolved.get(name);
    if (known !== undefined) return known;
    const user = resolveCommandUser(name, `user=${name}`);
    this.vet(user);
    this.resolved.set(name, user);
    return user;
  }

  /** What is wrong with a key's user=, or undefined when its commands can run as that user. */
  problemWith(name: string): string | undefined {
    try {
      this.resolve(name);
      return undefined;
    } catch (error) {
      if (error instanceof ConfigError) return error.message;
      throw error;
    }
  }

  /** Every user commands run as so far, by name. */
  names(): string[] {
    return [...this.resolved.keys()];
  }
}
