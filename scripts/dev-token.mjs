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
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEV_JWT_SECRET } from './dev-env.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

/** jose is a dependency of the monolith, not of the root: resolve it from there. */
async function loadJose() {
  const require = createRequire(join(root, 'monolith', 'package.json'));
  return import(pathToFileURL(require.resolve('jose')).href);
}

/** Builds and signs the token; exported for scripts/dev-token.test.ts. */
export async function devToken({ sub = 'demo', name = sub, secret = DEV_JWT_SECRET, admin = false } = {}) {
  const { SignJWT } = await loadJose();
  return new SignJWT({ name, guilds: { '1234567890': 0x207 }, ...(admin ? { admin: true } : {}) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('24h')
    .sign(new TextEncoder().encode(secret));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const admin = args.includes('--admin');
  const [sub, name] = args.filter((a) => a !== '--admin');
  const token = await devToken({ sub: sub || 'demo', name: name || sub || 'demo', secret: process.env.JWT_SECRET || DEV_JWT_SECRET, admin });
  process.stdout.write(token + '\n');
}
