#!/usr/bin/env node
/**
 * Loads the demo fixture (guilds, members, channels, roles, emojis, auto responses) into the
 * Redis the monoliths use (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS, as they read
 * them), the way a monolith with DEMO_FIXTURE=true does at start-up. Idempotent.
 *
 *   npm run build && REDIS_URL=redis://127.0.0.1:6379 node scripts/load-fixture.mjs
 *
 * A Redis that does not answer within 10 s stops it with exit 1 (it used to wait forever).
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const CONNECT_TIMEOUT_MS = 10_000;
const root = dirname(dirname(fileURLToPath(import.meta.url)));
const load = (path) => import(pathToFileURL(join(root, path)).href);
const { readConfig } = await load('server-kit/dist/index.js');
const { redisSpec, readRedisTopology, describeRedisTopology, openRedis, whenReady } = await load('server-kit/dist/redis.js');
const { createStore } = await load('monolith/dist/store/create-store.js');
const { loadFixture } = await load('monolith/dist/store/fixture.js');

const problems = [];
let topology;
try {
  topology = readRedisTopology(readConfig(redisSpec, process.env), process.env, problems);
} catch (err) {
  problems.push(...(err.problems ?? [err.message]));
}
if (!topology && !problems.length) problems.push('REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS is required (embedded mode loads the fixture with DEMO_FIXTURE=true)');
if (problems.length) {
  process.stderr.write(`load-fixture: ${problems.join('\n  ')}\n`);
  process.exit(2);
}
const where = describeRedisTopology(topology);
const redis = openRedis(topology, 'gateway-load-fixture');
try {
  await whenReady(redis, CONNECT_TIMEOUT_MS);
} catch {
  process.stderr.write(`load-fixture: Redis (${where}) did not answer within ${CONNECT_TIMEOUT_MS / 1000} s\n`);
  redis.disconnect();
  process.exit(1);
}
const started = performance.now();
const { counts } = await loadFixture(createStore(topology, redis));
process.stdout.write(`loaded ${JSON.stringify(counts)} into ${where} in ${Math.round(performance.now() - started)} ms\n`);
redis.disconnect();
