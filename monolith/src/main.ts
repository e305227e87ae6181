#!/usr/bin/env node
import { announceReady, createLog, exitWithParent, listenOrExit, loadOrExit } from '@gateway/server-kit';
import { describeRedisTopology } from '@gateway/server-kit/redis';
import { loadConfig } from './config.js';
import { buildApp } from './app.js';
import { loadFixture } from './store/fixture.js';
import { RegistryHeartbeat } from './coordination/registry.js';
import { loadEvents, type RegisterEvents } from './gateway/extensions.js';

const config = loadOrExit('monolith', () => loadConfig());
const log = createLog('monolith', config.MONOLITH_LOG_LEVEL, { format: config.GATEWAY_LOG_FORMAT });
let events: RegisterEvents | undefined;
let app: ReturnType<typeof buildApp>;
try {
  events = config.MONOLITH_EVENTS_MODULE ? await loadEvents(config.MONOLITH_EVENTS_MODULE) : undefined;
  app = buildApp(config, log, { events });
} catch (err) {
  if (!config.MONOLITH_EVENTS_MODULE) throw err;
  process.stderr.write(`monolith: MONOLITH_EVENTS_MODULE ${config.MONOLITH_EVENTS_MODULE} cannot be used: ${(err as Error).message}\n`);
  process.exit(2);
}
if (config.DEMO_FIXTURE) {
  const { counts } = await loadFixture(app.store);
  log.info('demo fixture loaded', { counts });
}
const { httpPort, linkPort } = await listenOrExit('monolith', () => app.listen());
// The config requires a Redis topology with REGISTRY_ADDRESS, so this is the Redis registry.
const registry = config.REGISTRY_ADDRESS
  ? new RegistryHeartbeat(app.coordination, config.MONOLITH_ID, config.REGISTRY_ADDRESS.replace(/:0$/, `:${linkPort}`), config.REGISTRY_TTL_MS, log)
  : undefined;
registry?.start();
log.info('monolith listening', { id: config.MONOLITH_ID, httpPort, linkPort, redis: describeRedisTopology(config.redis) });
announceReady('monolith', { id: config.MONOLITH_ID, httpPort, linkPort });

process.on('SIGTERM', () => {
  log.info('SIGTERM: draining', { timeoutMs: config.DRAIN_TIMEOUT_MS });
  // The registry entry is removed best effort (it expires by TTL anyway): a Redis that does
  // not answer must not hold up the drain.
  void registry?.stop();
  void app
    .drain(config.DRAIN_TIMEOUT_MS)
    .then(() => app.close())
    .finally(() => process.exit(0));
});
process.on('SIGINT', () => {
  log.info('shutting down', { signal: 'SIGINT' });
  app.close().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
// Under `npm start`, a stdin pipe from the runner: its end (the runner died, even by SIGKILL) is Ctrl-C.
exitWithParent(config.GATEWAY_EXIT_WITH_PARENT);
