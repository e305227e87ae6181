import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { configProblems } from '../../testing/config-problems.js';
import { workerPlans } from './workers.js';

const base = { JWT_SECRET: 'unit-jwt-secret-0123456789', LINK_SECRET: 'unit-link-secret-0123456789', MONOLITHS: '127.0.0.1:3001', BALANCER_PORT: '8080' };

const problemsOf = (env: Record<string, string>) => configProblems(loadConfig, env);

describe('BALANCER_REUSE_PORT and BALANCER_WORKERS settings', () => {
  it('are off by default: one process, the port bound exclusively', () => {
    const config = loadConfig(base);
    expect(config.BALANCER_REUSE_PORT).toBe(false);
    expect(config.BALANCER_WORKERS).toBe(1);
  });

  it('need a fixed BALANCER_PORT', () => {
    expect(problemsOf({ ...base, BALANCER_PORT: '0', ADMIN_PORT: '0', BALANCER_REUSE_PORT: 'true', BALANCER_WORKERS: '2' })).toEqual([
      'BALANCER_REUSE_PORT needs a fixed BALANCER_PORT (0 gives each process a port of its own)',
      'BALANCER_WORKERS over 1 needs a fixed BALANCER_PORT (0 gives each worker a port of its own)',
    ]);
  });

  it('give N workers N admin ports clear of the client port and of 65535, and room for the id suffix', () => {
    expect(problemsOf({ ...base, ADMIN_PORT: '8079', BALANCER_WORKERS: '3' })).toEqual(["BALANCER_PORT 8080 is among the workers' admin ports ADMIN_PORT 8079 … 8081"]);
    expect(problemsOf({ ...base, ADMIN_PORT: '65534', BALANCER_WORKERS: '3' })).toEqual(['ADMIN_PORT 65534 + BALANCER_WORKERS 3 - 1 is beyond 65535: the workers take ADMIN_PORT … ADMIN_PORT + 2']);
    expect(problemsOf({ ...base, BALANCER_ID: 'x'.repeat(63), BALANCER_WORKERS: '2' })).toEqual(["BALANCER_ID must leave room for the workers' suffix -1 … -2 (at most 62 characters)"]);
    expect(problemsOf({ ...base, BALANCER_WORKERS: '65' }).map((p) => p.split(' ')[0])).toEqual(['BALANCER_WORKERS']);
  });
});

describe('workerPlans', () => {
  it('gives worker i the id <id>-i, ADMIN_PORT + i - 1, the shared port on and no workers of its own', () => {
    const env = { ...base, BALANCER_ID: 'edge', ADMIN_PORT: '9100', BALANCER_WORKERS: '3', OTHER: 'kept' };
    const plans = workerPlans(loadConfig(env), env);
    expect(plans.map((p) => [p.index, p.id, p.env.ADMIN_PORT])).toEqual([
      [1, 'edge-1', '9100'],
      [2, 'edge-2', '9101'],
      [3, 'edge-3', '9102'],
    ]);
    for (const plan of plans) {
      expect(plan.env).toMatchObject({ BALANCER_PORT: '8080', BALANCER_REUSE_PORT: 'true', BALANCER_WORKERS: '1', GATEWAY_EXIT_WITH_PARENT: 'true', OTHER: 'kept' });
      // Each worker's environment is a valid balancer configuration of its own.
      expect(loadConfig(plan.env as Record<string, string>, () => {}).BALANCER_ID).toBe(plan.id);
    }
  });

  it('with ADMIN_PORT 0 each worker picks a free admin port; without BALANCER_ID they share a random prefix', () => {
    const env = { ...base, ADMIN_PORT: '0', BALANCER_WORKERS: '2' };
    const config = loadConfig(env);
    const plans = workerPlans(config, env);
    expect(plans.map((p) => p.env.ADMIN_PORT)).toEqual(['0', '0']);
    expect(plans.map((p) => p.id)).toEqual([`${config.BALANCER_ID}-1`, `${config.BALANCER_ID}-2`]);
  });
});
