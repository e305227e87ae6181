import { describe, expect, it } from 'vitest';
import { BALANCER_MAIN, JWT_SECRET, LINK_SECRET, MONOLITH_MAIN, ROOT, spawnProc, useHarness } from '../harness/index.js';

useHarness();

const monolithEnv = { HOST: '127.0.0.1', HTTP_PORT: '0', LINK_PORT: '0', MONOLITH_ID: 'cfg-m', JWT_SECRET, LINK_SECRET };
const balancerEnv = {
  BALANCER_HOST: '127.0.0.1',
  BALANCER_PORT: '0',
  BALANCER_ID: 'cfg-b',
  MONOLITHS: '127.0.0.1:1',
  JWT_SECRET,
  LINK_SECRET,
};

/** Runs a service with `env` and resolves with its exit code and stderr; it must exit by itself. */
async function runToExit(kind: 'monolith' | 'balancer', env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const proc = spawnProc(`${kind} (config)`, process.execPath, [kind === 'monolith' ? MONOLITH_MAIN : BALANCER_MAIN], env, ROOT);
  const timer = setTimeout(() => void proc.kill(), 15_000);
  const status = await proc.exited;
  clearTimeout(timer);
  return { code: status.code, stderr: proc.output('stderr'), stdout: proc.output('stdout') };
}

function without<T extends Record<string, string>>(env: T, name: keyof T): Record<string, string> {
  const copy: Record<string, string> = { ...env };
  delete copy[name as string];
  return copy;
}

describe('balancer configuration errors exit with code 2 and name the variable', () => {
  it.each([
    ['LINK_SECRET missing', without(balancerEnv, 'LINK_SECRET'), 'LINK_SECRET'],
    ['LINK_SECRET too short', { ...balancerEnv, LINK_SECRET: 'short' }, 'LINK_SECRET'],
    ['JWT_SECRET missing', without(balancerEnv, 'JWT_SECRET'), 'JWT_SECRET'],
    ['JWT_SECRET too short', { ...balancerEnv, JWT_SECRET: 'short' }, 'JWT_SECRET'],
    ['MONOLITHS missing', without(balancerEnv, 'MONOLITHS'), 'MONOLITHS'],
    ['MONOLITHS entry not host:port', { ...balancerEnv, MONOLITHS: 'just-a-host' }, 'MONOLITHS'],
    ['BALANCER_PORT not a number', { ...balancerEnv, BALANCER_PORT: 'eighty' }, 'BALANCER_PORT'],
    ['AUTH_TIMEOUT_MS not an integer', { ...balancerEnv, AUTH_TIMEOUT_MS: '1.5s' }, 'AUTH_TIMEOUT_MS'],
    ['MAX_PAYLOAD_BYTES below its minimum', { ...balancerEnv, MAX_PAYLOAD_BYTES: '10' }, 'MAX_PAYLOAD_BYTES'],
  ])('%s', async (_name, env, variable) => {
    const { code, stderr, stdout } = await runToExit('balancer', env);
    expect(code).toBe(2);
    expect(stderr).toContain(variable);
    expect(stdout).not.toContain('"ready"');
  });

  it('names every bad variable at once', async () => {
    const { code, stderr } = await runToExit('balancer', { ...without(balancerEnv, 'LINK_SECRET'), BALANCER_PORT: '70000' });
    expect(code).toBe(2);
    expect(stderr).toContain('LINK_SECRET');
    expect(stderr).toContain('BALANCER_PORT');
  });
});

describe('monolith configuration errors exit with code 2 and name the variable', () => {
  it.each([
    ['JWT_SECRET missing', without(monolithEnv, 'JWT_SECRET'), 'JWT_SECRET'],
    ['JWT_SECRET too short', { ...monolithEnv, JWT_SECRET: 'short' }, 'JWT_SECRET'],
    ['LINK_SECRET missing', without(monolithEnv, 'LINK_SECRET'), 'LINK_SECRET'],
    ['HTTP_PORT out of range', { ...monolithEnv, HTTP_PORT: '65536' }, 'HTTP_PORT'],
    ['REDIS_URL not a redis URL', { ...monolithEnv, REDIS_URL: 'http://127.0.0.1:6379' }, 'REDIS_URL'],
    ['MONOLITH_ID with a slash', { ...monolithEnv, MONOLITH_ID: 'a/b' }, 'MONOLITH_ID'],
  ])('%s', async (_name, env, variable) => {
    const { code, stderr, stdout } = await runToExit('monolith', env);
    expect(code).toBe(2);
    expect(stderr).toContain(variable);
    expect(stdout).not.toContain('"ready"');
  });
});
