// Serving: load the configuration, create the app, listen, and stop gracefully on SIGTERM/SIGINT;
// KEYS_FILE is read again whenever it changes (llmass keys). Run directly (node dist/server.js,
// as the unit does) it serves; `llmass` (cli.ts) serves through it too.
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createApp } from './app.js';
import { resolveCommandUser, type CommandUser } from './running/commandUser.js';
import { CommandUsers } from './running/commandUsers.js';
import { ConfigError, loadConfig, readEnv, type Config } from './config/config.js';
import { ensureHash } from './boot/firstRun.js';
import { Keyring } from './auth/keys.js';
import { closeInheritedDescriptors } from './boot/descriptors.js';
import { createLogger } from './logging/logger.js';
import { Redactor } from './logging/redact.js';
import { checkCodeOutOfReach, securePrivateFiles, whoRunsCommands } from './boot/startupChecks.js';

function fail(message: string): never {
  process.stderr.write(`llmass: configuration error: ${message}\n`);
  process.exit(1);
}

export async function serve(): Promise<void> {
  // First of all: nothing the server was started with may reach a command.
  const inherited = closeInheritedDescriptors();
  const cwd = process.cwd();
  let created: boolean;
  let config: Config;
  let commandUser: CommandUser | null;
  try {
    created = ensureHash(process.env, cwd);
    config = loadConfig(readEnv(process.env, cwd), cwd);
    commandUser = config.commandUser === null ? null : resolveCommandUser(config.commandUser);
    if (commandUser !== null) checkCodeOutOfReach(commandUser);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    fail(error.message);
  }
  // Every key's user= is vetted as COMMAND_USER is; a key whose user cannot be is left out.
  const users = new CommandUsers(commandUser, checkCodeOutOfReach);
  const keyring = new Keyring(config.hash, config.keysFile, (name) => users.problemWith(name));
  const redactor = new Redactor([config.hash]);
  const logger = createLogger(redactor);
  // First: who the commands run as, so that an operator cannot miss it.
  const who = whoRunsCommands(commandUser);
  logger[who.level](who.message);
  if (inherited.length > 0) logger.info('closed descriptors the server inherited, so that no command gets them', { descriptors: inherited });
  try {
    securePrivateFiles(config, cwd, logger);
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
  const app = createApp(config, logger, redactor, keyring, users);
  try {
    app.reloadKeys();
  } catch (error) {
    fail(`KEYS_FILE ${config.keysFile ?? ''} cannot be read: ${error instanceof Error ? error.message : String(error)}`);
  }
  let listening;
  try {
    listening = await app.start();
  } catch (error) {
    logger.flush();
    process.stderr.write(`llmass: could not start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  if (created) {
    // The one time the secret is printed: the operator needs this URL to hand to the agent.
    process.stdout.write(
      `\nLLMASS first start: wrote .env with a new random HASH (mode 0600).\n` +
        `Give your agent this URL; it explains everything else:\n\n  ${app.fqdn()}/context?hash=${config.hash}\n\n` +
        `This is printed once. Later starts reuse .env and never print the hash.\n\n`,
    );
  }

  // Last, so that whoever waits for this line has everything printed before it.
  if (listening.kind === 'tcp') logger.info('listening', { url: listening.url, port: listening.port, sessions_dir: config.sessionsDir });
  else logger.info('listening', { socket: listening.path, sessions_dir: config.sessionsDir });
  logger.flush();

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal, grace_seconds: config.shutdownGrace });
    app.shutdown().then(
      () => {
        logger.info('stopped');
        logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error('shutdown failed', { error: String(error) });
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // KEYS_FILE read again when it changes (llmass keys add and remove replace it whole).
  if (config.keysFile !== null) {
    fs.watchFile(config.keysFile, { interval: 1000 }, (now, before) => {
      if (now.mtimeMs === before.mtimeMs && now.ino === before.ino) return;
      try {
        app.reloadKeys();
      } catch (error) {
        logger.error('KEYS_FILE cannot be read; the keys stay as they were', { error: String(error) });
      }
    });
  }
  // SIGHUP: the audit log is reopened (after rotation) and KEYS_FILE read again.
  process.on('SIGHUP', () => {
    logger.info('reopening the audit log and reloading the keys', { signal: 'SIGHUP' });
    app.reopenLogs();
    try {
      app.reloadKeys();
    } catch (error) {
      logger.error('KEYS_FILE cannot be read; the keys stay as they were', { error: String(error) });
    }
  });
}

// Run directly: serve. Imported (by cli.ts): the caller decides.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) void serve();
