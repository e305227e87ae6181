import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, ROOT, spawnProc, useHarness, waitFor, type Proc } from '../harness/index.js';
import { listeners, pidsHolding } from '../../scripts/port-holder.mjs';
// @ts-expect-error plain .mjs script without type declarations
import { DEV_JWT_SECRET } from '../../scripts/dev-env.mjs';

useHarness();

// `npm start` itself (scripts/run.mjs start): its build step is a no-op on a built tree.
const BANNER_TIMEOUT_MS = 45_000;
const EXIT_TIMEOUT_MS = 15_000;

interface Ports {
  MONOLITH_HTTP_PORT: number;
  MONOLITH_LINK_PORT: number;
  BALANCER_PORT: number;
  ADMIN_PORT: number;
  WEB_PORT: number;
}

async function freePorts(): Promise<Ports> {
  return { MONOLITH_HTTP_PORT: await freePort(), MONOLITH_LINK_PORT: await freePort(), BALANCER_PORT: await freePort(), ADMIN_PORT: await freePort(), WEB_PORT: await freePort() };
}

// The services are the runner's children, not the harness's: any still alive after the file is
// killed here, by pid (exitWithParent should have made that unnecessary).
const servicePids = new Set<number>();
afterAll(() => {
  for (const pid of servicePids) if (!gone(pid)) process.kill(pid, 'SIGKILL');
});

function startRunner(ports: Ports, env: Record<string, string> = {}): Proc {
  const portEnv = Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, String(port)]));
  return spawnProc('npm start', process.execPath, [`${ROOT}scripts/run.mjs`, 'start'], { ...portEnv, ...env }, ROOT);
}

/** The banner's lines, once its last fixed line ("dev token:") is out (it is written at once). */
async function banner(runner: Proc): Promise<string> {
  await runner.waitForLine((l) => (l.stream === 'stdout' && l.text.startsWith('  dev token:') ? true : undefined), BANNER_TIMEOUT_MS, 'the banner');
  const lines = runner.output('stdout').split('\n');
  return lines.slice(lines.findIndex((l) => l.startsWith('gateway ready'))).join('\n');
}

/** The pids listening on `port` (any address). */
function holders(port: number): number[] {
  return pidsHolding(listeners(port).map((l) => l.inode));
}

/** The monolith's and the balancer's pids, read from the ports they listen on. */
function services(runner: Proc, ports: Ports): { monolith: number; balancer: number } {
  const [monolith] = holders(ports.MONOLITH_HTTP_PORT);
  const [balancer] = holders(ports.BALANCER_PORT);
  expect(monolith).toBeDefined();
  expect(balancer).toBeDefined();
  expect(holders(ports.MONOLITH_LINK_PORT)).toEqual([monolith]);
  expect(holders(ports.ADMIN_PORT)).toEqual([balancer]);
  expect([monolith, balancer]).not.toContain(runner.pid);
  servicePids.add(monolith!).add(balancer!);
  return { monolith: monolith!, balancer: balancer! };
}

/** No such process, or a zombie nobody reaped yet (a container's pid 1 may not): it runs no more. */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Every service pid gone and nothing listening on any of the stack's ports, within a bound. */
async function stackGone(pids: number[], ports: Ports): Promise<void> {
  await waitFor(() => pids.every(gone) && Object.values(ports).every((port) => listeners(port).length === 0), {
    timeoutMs: EXIT_TIMEOUT_MS,
    what: `pids ${pids.join(', ')} gone and ports ${Object.values(ports).join(', ')} free`,
  });
}

describe.runIf(process.platform === 'linux')('npm start (scripts/run.mjs start)', () => {
  it('listens on loopback only whatever HOST says, and SIGHUP (terminal closed) takes the stack down', async () => {
    const ports = await freePorts();
    const runner = startRunner(ports, { MONOLITH_HOST: '0.0.0.0', HOST: '0.0.0.0', BALANCER_HOST: '0.0.0.0', ADMIN_HOST: '0.0.0.0' });
    const text = await banner(runner);
    expect(text).toContain(`ws://127.0.0.1:${ports.BALANCER_PORT}/ws`);
    // The built-in secret may be shown, and is named as such.
    expect(text).toMatch(new RegExp(`JWT secret: ${DEV_JWT_SECRET} .*built-in development secret`));
    expect(runner.output('stderr')).toContain('ignoring HOST=0.0.0.0');
    for (const port of Object.values(ports)) expect(listeners(port).map((l) => l.address)).toEqual(['127.0.0.1']);
    const { monolith, balancer } = services(runner, ports);
    expect(holders(ports.WEB_PORT)).toEqual([runner.pid]);

    runner.signal('SIGHUP');
    expect(await within(runner.exited, EXIT_TIMEOUT_MS, 'runner exit after SIGHUP')).toEqual({ code: 0, signal: null });
    await stackGone([monolith, balancer], ports);
  }, 90_000);

  it('SIGKILL of the runner: the services see their stdin pipe close and exit', async () => {
    const ports = await freePorts();
    const runner = startRunner(ports);
    await banner(runner);
    const { monolith, balancer } = services(runner, ports);

    expect(await runner.kill()).toEqual({ code: null, signal: 'SIGKILL' });
    await stackGone([monolith, balancer], ports);
  }, 90_000);

  it('a taken port: exit 2 naming the port and the pid holding it, nothing started', async () => {
    const ports = await freePorts();
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(ports.BALANCER_PORT, '127.0.0.1', resolve));
    try {
      const runner = startRunner(ports);
      const status = await within(runner.exited, BANNER_TIMEOUT_MS, 'runner exit');
      expect(status).toEqual({ code: 2, signal: null });
      const stderr = runner.output('stderr');
      expect(stderr).toContain(`port ${ports.BALANCER_PORT} (BALANCER_PORT) is in use by pid ${process.pid} (`);
      expect(stderr).toContain('nothing started');
      expect(runner.output('stdout')).not.toMatch(/^\[(monolith|balancer)\]/m);
      for (const port of [ports.MONOLITH_HTTP_PORT, ports.MONOLITH_LINK_PORT, ports.ADMIN_PORT, ports.WEB_PORT]) expect(listeners(port)).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  }, 90_000);

  it('never prints a JWT_SECRET (or LINK_SECRET) the user supplied', async () => {
    const ports = await freePorts();
    const jwtSecret = `user-jwt-${randomBytes(12).toString('hex')}`;
    const linkSecret = `user-link-${randomBytes(12).toString('hex')}`;
    const runner = startRunner(ports, { JWT_SECRET: jwtSecret, LINK_SECRET: linkSecret });
    const text = await banner(runner);
    expect(text).toContain('JWT secret: yours, from JWT_SECRET (not printed)');
    expect(text).not.toContain(DEV_JWT_SECRET);
    const { monolith, balancer } = services(runner, ports);

    runner.signal('SIGINT');
    expect(await within(runner.exited, EXIT_TIMEOUT_MS, 'runner exit after SIGINT')).toEqual({ code: 0, signal: null });
    await stackGone([monolith, balancer], ports);
    // Everything the runner and both services wrote, start to exit.
    const all = runner.output();
    expect(all).toContain('gateway ready');
    expect(all).not.toContain(jwtSecret);
    expect(all).not.toContain(linkSecret);
  }, 90_000);
});
