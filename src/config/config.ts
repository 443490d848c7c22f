// Reads .env (dotenv) and the process environment into one typed, validated, frozen Config.
// The environment wins over .env. Nothing here starts anything; first-run HASH creation lives
// in firstRun.ts so that this module stays a pure function of its inputs.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import dotenv from 'dotenv';

/** The HASH value shipped in .env.example; a server configured with it refuses to start. */
export const PLACEHOLDER_HASH = 'change-me-to-a-random-secret-of-at-least-32-characters';
export const MIN_HASH_LENGTH = 32;
/**
 * The reserve kept on the sessions disk for tickets already running: 64 MiB holds the spools
 * and final records of MAX_CONCURRENCY (4) commands at MAX_OUTPUT_BYTES (1 MiB) many times over.
 */
export const DEFAULT_MIN_FREE_BYTES = 64 * 1024 * 1024;
/** Processes the command user may have at once: plenty for builds, few enough to stop a fork bomb. */
export const DEFAULT_MAX_PROCESSES = 512;
/** Address space per command process: 4 GiB lets compilers and runtimes reserve what they do. */
export const DEFAULT_MAX_MEMORY = 4 * 1024 * 1024 * 1024;

export interface Config {
  readonly hash: string;
  readonly fqdn: string;
  /** False when FQDN was not configured: the app then derives it from the port it bound. */
  readonly fqdnConfigured: boolean;
  readonly port: number;
  readonly host: string;
  /** Absolute path. */
  readonly sessionsDir: string;
  readonly commandShell: string;
  /** Seconds. */
  readonly commandTimeout: number;
  readonly maxOutputBytes: number;
  /** The largest file an upload may put in place. */
  readonly maxUploadBytes: number;
  /** Absolute path. */
  readonly workdir: string;
  /** False when WORKDIR was not set: with COMMAND_USER, commands then start in that user's home. */
  readonly workdirConfigured: boolean;
  /** Seconds. */
  readonly maxWait: number;
  readonly outputViewBytes: number;
  readonly maxConcurrency: number;
  readonly maxQueue: number;
  /** Seconds; 0 turns de-duplication off. */
  readonly dedupWindow: number;
  /** Seconds. */
  readonly shutdownGrace: number;
  /** Proxy addresses whose X-Forwarded-For is trusted (requests on SOCKET always are). */
  readonly trustProxy: readonly string[];
  /** METRICS_OPEN=1: /metrics without a key for a local request that came through no proxy. */
  readonly metricsOpen: boolean;
  /** Absolute path of the unix socket to listen on instead of HOST:PORT, or null. */
  readonly socket: string | null;
  /** The unprivileged user commands run as, or null: then as the server's own user. */
  readonly commandUser: string | null;
  /** The command user's process limit (RLIMIT_NPROC). */
  readonly commandMaxProcesses: number;
  /** Bytes of address space per command process (RLIMIT_AS). */
  readonly commandMaxMemory: number;
  readonly authMaxFailures: number;
  /** Seconds. */
  readonly authWindow: number;
  /** Absolute path. */
  readonly auditLog: string;
  /** Absolute path of the named keys file, or null. */
  readonly keysFile: string | null;
  /** Seconds a token in a ready URL stays valid. */
  readonly tokenTtl: number;
  /** Below this many free bytes on the sessions disk, no new ticket is taken (507). */
  readonly minFreeBytes: number;
  /** The operator's (HASH's) floor below MIN_FREE_BYTES: it may still run commands, to clean up. */
  readonly minFreeBytesOperator: number;
  /** Seconds a pending ticket waits for a decision before it is denied ("no decision"). */
  readonly approvalTimeout: number;
  /** Where each pending command is POSTed (with its approval links), or null. */
  readonly approvalWebhook: string | null;
}

export class ConfigError extends Error {}

export type Env = Readonly<Record<string, string | undefined>>;

/** .env from `cwd` (if any) under the real environment: the environment wins. */
export function readEnv(env: Env, cwd: string): Env {
  const file = path.join(cwd, '.env');
  let fromFile: Record<string, string> = {};
  if (fs.existsSync(file)) fromFile = dotenv.parse(fs.readFileSync(file));
  const merged: Record<string, string | undefined> = { ...fromFile };
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined) merged[key] = value;
  }
  return merged;
}

function integer(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const text = raw.trim();
  if (!/^\d+$/.test(text)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(text);
  if (value < min || value > max) {
    throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

/**
 * TRUST_PROXY: the addresses of proxies whose X-Forwarded-For is believed. `1` (the old flag)
 * means loopback, which is only safe when nothing else on the host can connect to the server:
 * with commands on the same host, prefer SOCKET.
 */
function proxyList(raw: string | undefined): string[] {
  const text = (raw ?? '').trim();
  if (text === '' || text === '0' || text === 'false') return [];
  if (text === '1' || text === 'true') return ['127.0.0.1', '::1', '::ffff:127.0.0.1'];
  const addresses = text.split(/[\s,]+/).filter(Boolean);
  for (const address of addresses) {
    if (net.isIP(address) === 0) throw new ConfigError(`TRUST_PROXY must list IP addresses of proxies (comma-separated), got "${address}"`);
  }
  // A proxy on IPv4 loopback may be seen as an IPv4-mapped IPv6 address.
  return addresses.flatMap((address) => (net.isIPv4(address) ? [address, `::ffff:${address}`] : [address]));
}

/** APPROVAL_WEBHOOK: an http(s) URL, or unset. */
function webhook(raw: string | undefined): string | null {
  const text = raw?.trim() ?? '';
  if (text === '') return null;
  try {
    const url = new URL(text);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.href;
  } catch {
    // said below
  }
  throw new ConfigError(`APPROVAL_WEBHOOK must be an http:// or https:// URL, got "${text.slice(0, 200)}"`);
}

function commandUser(raw: string | undefined): string | null {
  const name = raw?.trim() ?? '';
  if (name === '') return null;
  if (!/^[a-z_][a-z0-9_-]{0,31}\$?$/i.test(name)) throw new ConfigError(`COMMAND_USER must be a user name, got "${name}"`);
  return name;
}

export function validateHash(hash: string | undefined): string {
  if (hash === undefined || hash === '') {
    throw new ConfigError('HASH is not set: put HASH=<a random secret of 32 or more characters> in .env or the environment');
  }
  if (hash === PLACEHOLDER_HASH) {
    throw new ConfigError('HASH is still the placeholder from .env.example: replace it with a random secret of 32 or more characters (for example: openssl rand -base64 36)');
  }
  if (hash.length < MIN_HASH_LENGTH) {
    throw new ConfigError(`HASH must be at least ${MIN_HASH_LENGTH} characters long (it has ${hash.length})`);
  }
  if (!/^[\x21-\x7e]+$/.test(hash)) {
    throw new ConfigError('HASH must be printable ASCII without spaces, so that it can travel in a URL and a header');
  }
  return hash;
}

function defaultShell(): string {
  return fs.existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh';
}

export function loadConfig(env: Env, cwd: string): Config {
  const port = integer(env, 'PORT', 8083, 0, 65535);
  const sessionsDir = path.resolve(cwd, env.SESSIONS_DIR?.trim() || 'sessions');
  const fqdnRaw = env.FQDN?.trim() || `http://localhost:${port}`;
  let fqdn: string;
  try {
    const url = new URL(fqdnRaw);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
    fqdn = fqdnRaw.replace(/\/+$/, '');
  } catch {
    throw new ConfigError(`FQDN must be an http:// or https:// URL such as https://llmass.example.com, got "${fqdnRaw}"`);
  }
  const commandShell = env.COMMAND_SHELL?.trim() || defaultShell();
  if (!path.isAbsolute(commandShell)) throw new ConfigError(`COMMAND_SHELL must be an absolute path, got "${commandShell}"`);
  const workdir = path.resolve(cwd, env.WORKDIR?.trim() || '.');
  const maxOutputBytes = integer(env, 'MAX_OUTPUT_BYTES', 1048576, 1024);
  const minFree = integer(env, 'MIN_FREE_BYTES', DEFAULT_MIN_FREE_BYTES, 0);
  const operatorFloor = integer(env, 'MIN_FREE_BYTES_OPERATOR', Math.floor(minFree / 4), 0);
  if (operatorFloor > minFree) throw new ConfigError(`MIN_FREE_BYTES_OPERATOR (${operatorFloor}) must not be above MIN_FREE_BYTES (${minFree}): it is the operator's reserve below it`);
  const config: Config = {
    hash: validateHash(env.HASH),
    fqdn,
    fqdnConfigured: Boolean(env.FQDN?.trim()),
    port,
    host: env.HOST?.trim() || '127.0.0.1',
    sessionsDir,
    commandShell,
    commandTimeout: integer(env, 'COMMAND_TIMEOUT', 300, 1),
    maxOutputBytes,
    maxUploadBytes: integer(env, 'MAX_UPLOAD_BYTES', 1024 * 1024 * 1024, 1),
    workdir,
    workdirConfigured: Boolean(env.WORKDIR?.trim()),
    maxWait: integer(env, 'MAX_WAIT', 40, 0, 3600),
    outputViewBytes: integer(env, 'OUTPUT_VIEW_BYTES', 32768, 256),
    maxConcurrency: integer(env, 'MAX_CONCURRENCY', 4, 1, 1024),
    maxQueue: integer(env, 'MAX_QUEUE', 1000, 0),
    dedupWindow: integer(env, 'DEDUP_WINDOW', 10, 0),
    shutdownGrace: integer(env, 'SHUTDOWN_GRACE', 10, 0, 3600),
    trustProxy: proxyList(env.TRUST_PROXY),
    metricsOpen: env.METRICS_OPEN?.trim() === '1',
    socket: env.SOCKET?.trim() ? path.resolve(cwd, env.SOCKET.trim()) : null,
    commandUser: commandUser(env.COMMAND_USER),
    commandMaxProcesses: integer(env, 'COMMAND_MAX_PROCESSES', DEFAULT_MAX_PROCESSES, 8),
    commandMaxMemory: integer(env, 'COMMAND_MAX_MEMORY', DEFAULT_MAX_MEMORY, 64 * 1024 * 1024),
    authMaxFailures: integer(env, 'AUTH_MAX_FAILURES', 10, 1),
    authWindow: integer(env, 'AUTH_WINDOW', 60, 1),
    auditLog: path.resolve(cwd, env.AUDIT_LOG?.trim() || path.join(sessionsDir, 'audit.jsonl')),
    minFreeBytes: minFree,
    keysFile: env.KEYS_FILE?.trim() ? path.resolve(cwd, env.KEYS_FILE.trim()) : null,
    tokenTtl: integer(env, 'TOKEN_TTL', 86400, 1, 365 * 86400),
    minFreeBytesOperator: operatorFloor,
    approvalTimeout: integer(env, 'APPROVAL_TIMEOUT', 3600, 1, 30 * 86400),
    approvalWebhook: webhook(env.APPROVAL_WEBHOOK),
  };
  return Object.freeze(config);
}
