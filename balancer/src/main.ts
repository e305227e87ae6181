#!/usr/bin/env node
import { announceReady, createLog, exitWithParent, listenOrExit, loadOrExit } from '@gateway/server-kit';
import { loadConfig, workerEnvironment } from './config.js';
import { createBalancer } from './server.js';
import { runWorkers } from './workers.js';

const config = loadOrExit('balancer', () => loadConfig());
const log = createLog('balancer', config.BALANCER_LOG_LEVEL, { format: config.GATEWAY_LOG_FORMAT });
if (config.BALANCER_WORKERS > 1) {
  // A primary: N balancers of this script share BALANCER_PORT (workers.ts); it serves nothing itself.
  await listenOrExit('balancer', () => runWorkers(config, workerEnvironment(), process.argv[1]!, log));
  exitWithParent(config.GATEWAY_EXIT_WITH_PARENT);
} else {
  const balancer = createBalancer(config, log);
  const { port, adminPort } = await listenOrExit('balancer', () => balancer.listen());
  log.info('balancer listening', { id: config.BALANCER_ID, host: config.BALANCER_HOST, port, adminHost: config.ADMIN_HOST, adminPort });
  announceReady('balancer', { id: config.BALANCER_ID, port, adminPort });

  process.on('SIGTERM', () => {
    log.info('SIGTERM: draining', { windowMs: config.DRAIN_WINDOW_MS });
    void balancer.drain().then(() => {
      balancer.close();
      setTimeout(() => process.exit(0), 100).unref();
    });
  });
  process.on('SIGINT', () => {
    log.info('shutting down', { signal: 'SIGINT' });
    balancer.close();
    setTimeout(() => process.exit(0), 100).unref();
  });
  // Under `npm start`, a stdin pipe from the runner: its end (the runner died, even by SIGKILL) is Ctrl-C.
  exitWithParent(config.GATEWAY_EXIT_WITH_PARENT);
}
