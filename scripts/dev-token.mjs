#!/usr/bin/env node
/**
 * Prints a development HS256 token for the local stack (`npm start`).
 *
 *   node scripts/dev-token.mjs [sub] [name] [--admin]
 *
 * --admin adds `admin: true`: a backend service token for the publishing HTTP endpoints.
 *
 * Signed with JWT_SECRET from the environment, or the dev default that `npm start` uses. The
 * token carries guild 1234567890 with ADMINISTRATOR | VIEW_PUBLIC_LOGS | VIEW_PRIVATE_LOGS |
 * MANAGE_SETTINGS (0x207) and expires in 24 hours. Never use the dev secret in production.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEV_JWT_SECRET } from './dev-env.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

/**
 * The server kit's one minting helper, from its build (loaded on first use: scripts/run.mjs imports
 * this file before it builds).
 */
async function loadMint() {
  const built = join(root, 'server-kit', 'dist', 'index.js');
  if (!existsSync(built)) throw new Error('server-kit/dist is missing: run `npm run build` first');
  return (await import(pathToFileURL(built).href)).mintToken;
}

/** Builds and signs the token; exported for scripts/dev-token.test.ts. */
export async function devToken({ sub = 'demo', name = sub, secret = DEV_JWT_SECRET, admin = false } = {}) {
  const mintToken = await loadMint();
  return mintToken({ sub, name, guilds: { '1234567890': 0x207 }, ...(admin ? { admin: true } : {}) }, { secret, ttlSeconds: 24 * 3600 });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const admin = args.includes('--admin');
  const [sub, name] = args.filter((a) => a !== '--admin');
  const token = await devToken({ sub: sub || 'demo', name: name || sub || 'demo', secret: process.env.JWT_SECRET || DEV_JWT_SECRET, admin });
  process.stdout.write(token + '\n');
}
