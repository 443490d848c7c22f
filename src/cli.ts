#!/usr/bin/env node
// The `llmass` command: serve (the default), --help, --version, check, keys add|list|remove.
// Arguments by node:util's parseArgs (it does the job: no parser to depend on). A mistake in
// the arguments is a message and exit 2; a problem found by check, or a key that cannot be
// added or removed, exit 1; never a half-written KEYS_FILE.
import fs from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { createApp } from './app.js';
import { Keyring, parseKeys, type KeyOptions } from './auth/keys.js';
import { addKey, KeysFileError, listKeys, optionWords, removeKey } from './auth/keysFile.js';
import { checkCodeOutOfReach, privateFileProblems } from './boot/startupChecks.js';
import { ConfigError, loadConfig, readEnv, type Config } from './config/config.js';
import { createLogger } from './logging/logger.js';
import { Redactor } from './logging/redact.js';
import { lookUpUser, resolveCommandUser, type CommandUser } from './running/commandUser.js';
import { CommandUsers } from './running/commandUsers.js';
import { describeFailure } from './running/selfCheck.js';
import { serve } from './server.js';

const VERSION = (JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const USAGE = `Usage: llmass [serve]             start the server (the configuration: .env here, and the environment)
       llmass check               check the configuration, the start-up checks and one command the whole
                                  way (the self-check); print each problem and its fix; never serve
       llmass keys add <name> [--user U] [--approve always]
                                  add a key to KEYS_FILE; print its secret (once) and the /context URL.
                                  --user: its commands run as U (not COMMAND_USER), apart from other users';
                                  --approve always: each of its commands waits for a person's approval
       llmass keys list           the keys' names and options (never their secrets)
       llmass keys remove <name>  remove a key: it, and every token it made, stop working
       llmass --help | --version

A running server reads KEYS_FILE again when it changes. The README explains the configuration.
`;

/** A mistake in how the command was called: said with the usage, exit 2. */
class UsageError extends Error {}

function configuration(): Config {
  return loadConfig(readEnv(process.env, process.cwd()), process.cwd());
}

function keysFileOf(config: Config): string {
  if (config.keysFile === null) throw new KeysFileError('KEYS_FILE is not set: set it in .env (for instance KEYS_FILE=/etc/llmass/keys, mode 0600), then try again');
  return config.keysFile;
}

/** What --user and --approve ask of a new key (keys add only, which main() checks). */
function newKeyOptions(user: string | undefined, approve: string | undefined): KeyOptions {
  if (approve !== undefined && approve !== 'always') throw new UsageError(`--approve takes one value, always (not ${JSON.stringify(approve.slice(0, 40))})`);
  return { user: user ?? null, approve: approve === 'always' };
}

/** What the server will find wrong with a new key's user, as far as this process can tell. */
function userProblem(name: string): string | undefined {
  try {
    checkCodeOutOfReach(lookUpUser(name));
    return undefined;
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
}

function keys(args: string[], options: KeyOptions): number {
  const [action, name, ...rest] = args;
  if (rest.length > 0) throw new UsageError(`llmass keys ${action ?? ''} takes one name, not ${rest.length + 1}`);
  const file = keysFileOf(configuration());
  switch (action) {
    case 'list':
      if (name !== undefined) throw new UsageError('llmass keys list takes no name');
      for (const key of listKeys(file)) process.stdout.write(`${[key.name, optionWords(key.options)].filter(Boolean).join(' ')}\n`);
      return 0;
    case 'add': {
      if (name === undefined) throw new UsageError('llmass keys add needs a name: llmass keys add <name>');
      const secret = addKey(file, name, options, userProblem);
      const fqdn = configuration().fqdn;
      process.stdout.write(`Added the key ${name} to ${file}. Its secret, shown this once:\n\n  ${secret}\n\nGive its agent this URL; it explains everything else:\n\n  ${fqdn}/context?hash=${secret}\n\nA running server takes it within a second or two.\n`);
      return 0;
    }
    case 'remove':
      if (name === undefined) throw new UsageError('llmass keys remove needs a name: llmass keys remove <name>');
      removeKey(file, name);
      process.stdout.write(`Removed the key ${name}: it, and every token it made, stop working once the running server has read ${file} again (a second or two).\n`);
      return 0;
    default:
      throw new UsageError(action === undefined ? 'llmass keys needs add, list or remove' : `llmass keys has no action ${JSON.stringify(action)}: use add, list or remove`);
  }
}

async function check(args: string[]): Promise<number> {
  if (args.length > 0) throw new UsageError('llmass check takes no arguments');
  let config: Config;
  try {
    config = configuration();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stdout.write(`problem: the configuration: ${error.message}\n`);
    return 1;
  }
  const problems: string[] = [];
  let commandUser: CommandUser | null = null;
  try {
    commandUser = config.commandUser === null ? null : resolveCommandUser(config.commandUser);
    if (commandUser !== null) checkCodeOutOfReach(commandUser);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(error.message);
  }
  problems.push(...privateFileProblems(config, process.cwd()));
  const users = new CommandUsers(commandUser, checkCodeOutOfReach);
  if (config.keysFile !== null && fs.existsSync(config.keysFile)) {
    // Every key's line as the server reads it, user= included: a line it would leave out is a problem.
    for (const { line, problem } of parseKeys(fs.readFileSync(config.keysFile, 'utf8'), (name) => users.problemWith(name)).problems) {
      problems.push(`${config.keysFile} line ${line}: ${problem}. Fix: correct the line (llmass keys remove, then add)`);
    }
  }
  if (problems.length === 0) {
    const redactor = new Redactor([config.hash]);
    const app = createApp(config, createLogger(redactor, { write: () => true }), redactor, new Keyring(config.hash, config.keysFile), users);
    const checked = await app.selfCheck();
    if (!checked.ok) problems.push(describeFailure(checked));
    await app.shutdown();
  }
  for (const problem of problems) process.stdout.write(`problem: ${problem}\n`);
  if (problems.length > 0) return 1;
  process.stdout.write(`ok: the configuration loads; commands run as ${commandUser?.name ?? os.userInfo().username}; one command went the whole way a command goes\n`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' }, user: { type: 'string' }, approve: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version === true) {
    process.stdout.write(`llmass ${VERSION}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  const addingKey = command === 'keys' && rest[0] === 'add';
  if (!addingKey && (values.user !== undefined || values.approve !== undefined)) throw new UsageError('--user and --approve go with llmass keys add only');
  switch (command) {
    case undefined:
    case 'serve':
      if (rest.length > 0) throw new UsageError('llmass serve takes no arguments');
      await serve();
      return -1;
    case 'check':
      return check(rest);
    case 'keys':
      return keys(rest, newKeyOptions(values.user, values.approve));
    default:
      throw new UsageError(`llmass has no command ${JSON.stringify(command)}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // Serving: the server decides when the process ends.
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`llmass: ${(error as Error).message}\n\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
    if (error instanceof KeysFileError || error instanceof ConfigError) {
      process.stderr.write(`llmass: ${error.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw error;
  },
);
