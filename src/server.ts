// Entry point: load the configuration, create the app, listen, and stop gracefully on
// SIGTERM/SIGINT. Nothing else lives here.
import { createApp } from './app.js';
import { ConfigError, loadConfig, readEnv } from './config.js';
import { ensureHash } from './firstRun.js';
import { createLogger } from './log.js';
import { Redactor } from './redact.js';

async function main(): Promise<void> {
  const cwd = process.cwd();
  let created: boolean;
  let config;
  try {
    created = ensureHash(process.env, cwd);
    config = loadConfig(readEnv(process.env, cwd), cwd);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`llmass: configuration error: ${error.message}\n`);
    process.exit(1);
  }
  const redactor = new Redactor([config.hash]);
  const logger = createLogger(redactor);
  const app = createApp(config, logger, redactor);
  let address;
  try {
    address = await app.start();
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
  logger.info('listening', { url: `http://${address.address}:${address.port}`, port: address.port, sessions_dir: config.sessionsDir });
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
  process.on('SIGHUP', () => {
    logger.info('reopening the audit log', { signal: 'SIGHUP' });
    app.reopenLogs();
  });
}

void main();
