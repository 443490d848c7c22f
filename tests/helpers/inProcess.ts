// An app in this process, for fast tests at the edges: createApp() with a temp SESSIONS_DIR,
// prepared as start() prepares it (recovery and the self-check, real commands), but listening on
// nothing: requests go through app.inject(), the real node:http server and pipeline without a
// socket. Its log lines are kept for the test to read.
import { CommandUsers } from '../../src/running/commandUsers.js';
import fs from 'node:fs';
import path from 'node:path';
import { createApp, type App } from '../../src/app.js';
import { Keyring } from '../../src/auth/keys.js';
import { loadConfig, readEnv, type Config } from '../../src/config/config.js';
import type { InjectedAnswer } from '../../src/http/inject.js';
import { createLogger } from '../../src/logging/logger.js';
import { Redactor } from '../../src/logging/redact.js';
import { randomHash, tempDir } from './server.js';

export interface InProcessApp {
  readonly app: App;
  readonly config: Config;
  readonly hash: string;
  readonly dir: string;
  readonly sessionsDir: string;
  /** The log lines written so far. */
  readonly logLines: string[];
  /** GET `pathname` with `params` (the hash added unless `hash` is given), through the seam. */
  get(pathname: string, params?: Record<string, string | number>, headers?: Record<string, string>): Promise<InjectedAnswer>;
  close(): Promise<void>;
}

const opened = new Set<InProcessApp>();

export async function inProcessApp(env: Record<string, string> = {}): Promise<InProcessApp> {
  const dir = tempDir('llmass-inproc-');
  const hash = randomHash();
  const sessionsDir = path.join(dir, 'sessions');
  // A short grace: a test's commands still running at its end are stopped at once.
  let config: Config;
  try {
    config = loadConfig(readEnv({ PORT: '0', HASH: hash, SESSIONS_DIR: sessionsDir, SHUTDOWN_GRACE: '1', ...env }, dir), dir);
  } catch (error) {
    // A configuration a test expects to be refused: no app, and no directory left behind.
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const redactor = new Redactor([hash]);
  const logLines: string[] = [];
  const logger = createLogger(redactor, { write: (line: string) => logLines.push(line) });
  const app = createApp(config, logger, redactor, new Keyring(hash, config.keysFile), new CommandUsers(null, () => undefined));
  app.reloadKeys();
  await app.prepare();
  const handle: InProcessApp = {
    app,
    config,
    hash,
    dir,
    sessionsDir,
    logLines,
    get(pathname, params = {}, headers = {}) {
      // Each value URL-encoded once, a space as %20, as fetch tools send it.
      const query = Object.entries({ hash, ...params }).map(([name, value]) => `${name}=${encodeURIComponent(String(value))}`);
      return app.inject({ url: `${pathname}?${query.join('&')}`, headers });
    },
    async close() {
      opened.delete(handle);
      await app.shutdown();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  opened.add(handle);
  return handle;
}

/** Closes every app a test file opened and did not close (afterEach). */
export async function closeInProcessApps(): Promise<void> {
  await Promise.all([...opened].map((handle) => handle.close()));
}

/** What an MCP tool call answered: the result's text part and structuredContent, and the answer's size. */
export interface ToolResult {
  readonly text: string;
  readonly structured: Record<string, unknown>;
  readonly isError: boolean;
  /** Bytes of the whole JSON-RPC answer. */
  readonly bytes: number;
}

/** Calls an MCP tool over POST /mcp through the seam, with the operator's key. */
export async function callTool(server: InProcessApp, name: string, args: Record<string, unknown>): Promise<ToolResult> {
  const answer = await server.app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${server.hash}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } }),
  });
  const result = answer.json<{ result: { content: Array<{ text: string }>; structuredContent: Record<string, unknown>; isError?: boolean } }>().result;
  return { text: result.content[0]?.text ?? '', structured: result.structuredContent, isError: result.isError === true, bytes: Buffer.byteLength(answer.body) };
}
