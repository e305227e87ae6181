import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fullJitter } from '@gateway/protocol';
import { ConfigError, announceReady, bindFailure, listenProblem, parseReadyLine, type Env, type Log } from '@gateway/server-kit';
import type { BalancerConfig } from './config.js';

/** One worker's place: its id, admin port (0: a free one) and the environment it is started with. */
export interface WorkerPlan {
  readonly index: number;
  readonly id: string;
  readonly env: Record<string, string | undefined>;
}

/**
 * The N balancers a primary runs (BALANCER_WORKERS): the primary's environment with each one's
 * BALANCER_ID `<id>-<i>`, ADMIN_PORT + i - 1 (or 0), BALANCER_REUSE_PORT on, BALANCER_WORKERS
 * 1 (a worker never forks), and GATEWAY_EXIT_WITH_PARENT, so a worker whose primary is gone
 * (even by SIGKILL) stops too.
 */
export function workerPlans(config: BalancerConfig, env: Env): WorkerPlan[] {
  return Array.from({ length: config.BALANCER_WORKERS }, (_, k) => {
    const index = k + 1;
    const id = `${config.BALANCER_ID}-${index}`;
    const adminPort = config.ADMIN_PORT === 0 ? 0 : config.ADMIN_PORT + k;
    return {
      index,
      id,
      env: { ...env, BALANCER_ID: id, ADMIN_PORT: String(adminPort), BALANCER_REUSE_PORT: 'true', BALANCER_WORKERS: '1', GATEWAY_EXIT_WITH_PARENT: 'true' },
    };
  });
}

interface Running {
  plan: WorkerPlan;
  child: ChildProcess;
  ready?: { pid: number; adminPort: number };
}

const RESTART_BASE_MS = 200;
const RESTART_CAP_MS = 10_000;

/**
 * The primary of BALANCER_WORKERS: refuses a BALANCER_PORT already held (so a second group
 * cannot join the first by accident: both would set SO_REUSEPORT), forks `script` once per
 * plan, forwards the workers' output except their ready lines and prints one ready line of its
 * own once all are ready (`workers`: id, pid, adminPort of each). A worker that exits before
 * every worker was ready stops the start-up: the others are stopped and the primary exits with
 * its status (2 for a configuration problem). One that dies later is started again after a
 * full-jitter back-off (its clients reconnect to the others meanwhile). SIGTERM (drain) and
 * SIGINT go to every worker; the primary exits once they all have, 0 if they all did.
 */
export async function runWorkers(config: BalancerConfig, env: Env, script: string, log: Log): Promise<void> {
  const code = await bindFailure(config.BALANCER_HOST, config.BALANCER_PORT);
  if (code) throw new ConfigError([listenProblem({ hostVar: 'BALANCER_HOST', host: config.BALANCER_HOST, portVar: 'BALANCER_PORT', port: config.BALANCER_PORT }, code)]);

  const running = new Map<number, Running>();
  let stopping: NodeJS.Signals | undefined;
  let announced = false;
  let failures = 0;
  let worst = 0;

  const stopAll = (signal: NodeJS.Signals): void => {
    stopping ??= signal;
    for (const w of running.values()) w.child.kill(signal);
    if (running.size === 0) process.exit(worst);
  };

  const start = (plan: WorkerPlan): void => {
    // stdin is the pipe GATEWAY_EXIT_WITH_PARENT watches; stdout is read for the ready line.
    const child = fork(script, [], { env: plan.env, stdio: ['pipe', 'pipe', 'inherit', 'ipc'] });
    const w: Running = { plan, child };
    running.set(plan.index, w);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const ready = parseReadyLine(line, 'balancer');
      if (!ready) return void process.stdout.write(`${line}\n`);
      w.ready = { pid: child.pid!, adminPort: ready.adminPort };
      failures = 0;
      if (!announced && [...running.values()].every((r) => r.ready) && running.size === config.BALANCER_WORKERS) {
        announced = true;
        const workers = [...running.values()].map((r) => ({ id: r.plan.id, pid: r.ready!.pid, adminPort: r.ready!.adminPort }));
        announceReady('balancer', { id: config.BALANCER_ID, port: config.BALANCER_PORT, adminPort: workers[0]!.adminPort, workers });
      }
    });
    child.once('exit', (status, signal) => {
      running.delete(plan.index);
      const exitCode = status ?? (signal ? 1 : 0);
      if (stopping || !announced) {
        worst = Math.max(worst, exitCode);
        if (!stopping) {
          log.error('balancer worker exited during start-up: stopping the others', { id: plan.id, status: exitCode, signal });
          stopAll('SIGINT');
        }
        if (running.size === 0) process.exit(worst);
        return;
      }
      const delayMs = fullJitter(failures++, RESTART_BASE_MS, RESTART_CAP_MS);
      log.warn('balancer worker exited: starting it again', { id: plan.id, status: exitCode, signal, delayMs: Math.round(delayMs) });
      setTimeout(() => {
        if (!stopping) start(plan);
      }, delayMs);
    });
  };

  process.on('SIGTERM', () => {
    log.info('SIGTERM: draining every worker', { workers: running.size });
    stopAll('SIGTERM');
  });
  process.on('SIGINT', () => stopAll('SIGINT'));
  for (const plan of workerPlans(config, env)) start(plan);
}
