#!/usr/bin/env node
/**
 * Loads the demo fixture (guilds, members, channels, roles, emojis, auto responses) into the
 * Redis at REDIS_URL, the way a monolith with DEMO_FIXTURE=true does at start-up. Idempotent.
 *
 *   npm run build && REDIS_URL=redis://127.0.0.1:6379 node scripts/load-fixture.mjs
 */
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const url = process.env.REDIS_URL;
if (!url) {
  process.stderr.write('load-fixture: REDIS_URL is required (embedded mode loads the fixture with DEMO_FIXTURE=true)\n');
  process.exit(2);
}
const require = createRequire(join(root, 'monolith', 'package.json'));
const { Redis } = await import(pathToFileURL(require.resolve('ioredis')).href);
const { createStore } = await import(pathToFileURL(join(root, 'monolith/dist/store/create-store.js')).href);
const { loadFixture } = await import(pathToFileURL(join(root, 'monolith/dist/store/fixture.js')).href);
const redis = new Redis(url);
const started = performance.now();
const { counts } = await loadFixture(createStore({ REDIS_URL: url }, redis));
process.stdout.write(`loaded ${JSON.stringify(counts)} into ${url} in ${Math.round(performance.now() - started)} ms\n`);
redis.disconnect();
