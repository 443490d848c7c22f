// First start: with no HASH anywhere and no .env, write a .env (mode 0600) holding a fresh
// random HASH, so that an operator never runs the server with a weak or shared secret.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Env } from '../config/config.js';

/** 36 random bytes are 48 base64url characters: URL-safe, no padding. */
export function generateHash(): string {
  return crypto.randomBytes(36).toString('base64url');
}

/**
 * Creates `<cwd>/.env` with a new HASH when neither the environment nor a .env provides one.
 * Returns true when it wrote the file: the caller then prints the /context URL, once.
 */
export function ensureHash(env: Env, cwd: string): boolean {
  const file = path.join(cwd, '.env');
  if (env.HASH !== undefined || fs.existsSync(file)) return false;
  const contents =
    '# Written by LLMASS on first start. Keep this file private (mode 0600).\n' +
    `HASH=${generateHash()}\n`;
  // 'wx' fails if another process created the file meanwhile: we never overwrite a secret.
  fs.writeFileSync(file, contents, { mode: 0o600, flag: 'wx' });
  return true;
}
