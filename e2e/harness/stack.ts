import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseReadyLine } from '@gateway/server-kit';
import { spawnProc, type ExitStatus, type Proc } from './processes.js';
import { startRedis, type RedisHandle } from './redis.js';
import { JWT_SECRET } from './tokens.js';
import { metric, waitFor } from './wait.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MONOLITH_MAIN = `${ROOT}monolith/dist/main.js`;
export const BALANCER_MAIN = `${ROOT}balancer/dist/main.js`;

/** Secrets shared by every process a test starts (JWT_SECRET lives with the token helpers). */
export { JWT_SECRET };
export const LINK_SECRET = 'e2e-link-secret-0123456789abcdef';

const READY_TIMEOUT_MS = 20_000;

/** A short random suffix, so names never collide between files or with a shared REDIS_URL. */
export function uniq(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

interface Handle {
  readonly proc: Proc;
  readonly pid: number;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<ExitStatus>;
  /** SIGKILL. */
  kill(): Promise<ExitStatus>;
}

export interface MonolithHandle extends Handle {
  readonly id: string;
  readonly httpPort: number;
  readonly linkPort: number;
  /** `http://127.0.0.1:<httpPort>` */
  readonly http: string;
  /** `127.0.0.1:<linkPort>`, as balancers' MONOLITHS lists it. */
  readonly linkAddress: string;
  /** The value of an unlabelled gauge or counter on `/metrics`. */
  metric(name: string): Promise<number>;
}

export interface BalancerHandle extends Handle {
  readonly id: string;
  readonly port: number;
  /** The client port: `http://127.0.0.1:<port>` (`/health`, `/ready`; no `/metrics`). */
  readonly http: string;
  readonly adminPort: number;
  /** The admin port: `http://127.0.0.1:<adminPort>` (`/metrics`, `/health`, `/ready`). */
  readonly admin: string;
  /** `ws://127.0.0.1:<port><path>`, path defaulting to `/ws`. */
  url(path?: string): string;
  /** The value of an unlabelled gauge or counter on the admin port's `/metrics`. */
  metric(name: string): Promise<number>;
}

export interface MonolithOptions {
  id?: string;
  redisUrl?: string;
  /** Extra or overriding env (set a value to '' to blank it; use `omit` to remove one). */
  env?: Record<string, string>;
  omit?: string[];
}

export interface BalancerOptions {
  id?: string;
  monoliths: Array<MonolithHandle | string>;
  env?: Record<string, string>;
  omit?: string[];
  /** Wait until `/ready` reports this many linked monoliths (default: all listed; 0 skips). */
  waitForMonoliths?: number;
}

function buildEnv(base: Record<string, string>, env: Record<string, string> = {}, omit: string[] = []): Record<string, string> {
  const out = { ...base, ...env };
  for (const name of omit) delete out[name];
  return out;
}

function readyLine<S extends 'balancer' | 'monolith'>(service: S) {
  return (line: { stream: string; text: string }) => (line.stream === 'stdout' ? parseReadyLine(line.text, service) : undefined);
}

export async function startMonolith(opts: MonolithOptions = {}): Promise<MonolithHandle> {
  const id = opts.id ?? uniq('m');
  const env = buildEnv(
    {
      MONOLITH_HOST: '127.0.0.1',
      MONOLITH_HTTP_PORT: '0',
      MONOLITH_LINK_PORT: '0',
      MONOLITH_ID: id,
      JWT_SECRET,
      LINK_SECRET,
      // A SIGTERM drain waits for balancers to move connections; bound it in tests.
      DRAIN_TIMEOUT_MS: '2000',
      // Short heartbeats so a dead balancer link is noticed quickly.
      LINK_HEARTBEAT_MS: '500',
      ...(opts.redisUrl ? { REDIS_URL: opts.redisUrl } : {}),
    },
    opts.env,
    opts.omit,
  );
  const proc = spawnProc(`monolith ${id}`, process.execPath, [MONOLITH_MAIN], env, ROOT);
  const ready = await proc.waitForLine(readyLine('monolith'), READY_TIMEOUT_MS, 'ready line');
  const http = `http://127.0.0.1:${ready.httpPort}`;
  return {
    proc,
    pid: proc.pid,
    id: ready.id,
    httpPort: ready.httpPort,
    linkPort: ready.linkPort,
    http,
    linkAddress: `127.0.0.1:${ready.linkPort}`,
    stop: (graceMs) => proc.stop(graceMs),
    kill: () => proc.kill(),
    metric: (name) => metric(`${http}/metrics`, name),
  };
}

/** Polls the balancer's `/ready` until it reports at least `count` linked monoliths. */
export async function waitForLinks(balancer: Pick<BalancerHandle, 'http' | 'proc'>, count: number, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  await waitFor(
    async () => {
      const res = await fetch(`${balancer.http}/ready`).catch(() => undefined);
      if (!res || res.status !== 200) return false;
      const body = (await res.json()) as { monoliths?: number };
      return (body.monoliths ?? 0) >= count;
    },
    { timeoutMs, what: `balancer ${balancer.http} linked to ${count} monolith(s)\n${balancer.proc.tail(20)}` },
  );
}

export async function startBalancer(opts: BalancerOptions): Promise<BalancerHandle> {
  const id = opts.id ?? uniq('b');
  const addresses = opts.monoliths.map((m) => (typeof m === 'string' ? m : m.linkAddress));
  const env = buildEnv(
    {
      BALANCER_HOST: '127.0.0.1',
      BALANCER_PORT: '0',
      ADMIN_PORT: '0',
      BALANCER_ID: id,
      MONOLITHS: addresses.join(','),
      JWT_SECRET,
      LINK_SECRET,
      DRAIN_TIMEOUT_MS: '2000',
      LINK_HEARTBEAT_MS: '500',
      LINK_BACKOFF_MAX_MS: '500',
      // Tests that drain set a window; elsewhere a SIGTERM should not wait.
      DRAIN_WINDOW_MS: '0',
      // Every test client comes from 127.0.0.1: per-address limits are out of the way unless a
      // test sets them (or `omit`s these to run with the shipped defaults).
      CONNECT_RATE_PER_IP: '1000000',
      CONNECT_BURST_PER_IP: '1000000',
      MAX_UNAUTHENTICATED_PER_IP: '1000000',
    },
    opts.env,
    opts.omit,
  );
  const proc = spawnProc(`balancer ${id}`, process.execPath, [BALANCER_MAIN], env, ROOT);
  const ready = await proc.waitForLine(readyLine('balancer'), READY_TIMEOUT_MS, 'ready line');
  const http = `http://127.0.0.1:${ready.port}`;
  const admin = `http://127.0.0.1:${ready.adminPort}`;
  const handle: BalancerHandle = {
    proc,
    pid: proc.pid,
    id: ready.id,
    port: ready.port,
    http,
    adminPort: ready.adminPort,
    admin,
    url: (path = '/ws') => `ws://127.0.0.1:${ready.port}${path}`,
    metric: (name) => metric(`${admin}/metrics`, name),
    stop: (graceMs) => proc.stop(graceMs),
    kill: () => proc.kill(),
  };
  const want = opts.waitForMonoliths ?? addresses.length;
  if (want > 0) await waitForLinks(handle, want);
  return handle;
}

export interface StackOptions {
  monoliths?: number;
  balancers?: number;
  /** Start (or use REDIS_URL) a Redis and give it to every monolith. */
  redis?: boolean;
  monolithEnv?: Record<string, string>;
  balancerEnv?: Record<string, string>;
}

export interface Stack {
  redis: RedisHandle | undefined;
  monoliths: MonolithHandle[];
  balancers: BalancerHandle[];
  /** Everything this stack started, for failure dumps. */
  procs(): Proc[];
  stop(): Promise<void>;
}

/**
 * Monoliths, then balancers linked to all of them; resolves once every balancer has every
 * monolith linked and every monolith counts every balancer's link.
 */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const redis = opts.redis ? await startRedis() : undefined;
  const monoliths = await Promise.all(
    Array.from({ length: opts.monoliths ?? 1 }, (_, i) =>
      startMonolith({ id: uniq(`m${i + 1}`), ...(redis ? { redisUrl: redis.url } : {}), ...(opts.monolithEnv ? { env: opts.monolithEnv } : {}) }),
    ),
  );
  const balancers = await Promise.all(
    Array.from({ length: opts.balancers ?? 1 }, (_, i) =>
      startBalancer({ id: uniq(`b${i + 1}`), monoliths, ...(opts.balancerEnv ? { env: opts.balancerEnv } : {}) }),
    ),
  );
  for (const m of monoliths) {
    await waitFor(async () => (await m.metric('gateway_monolith_links')) >= balancers.length, {
      what: `monolith ${m.id} linked to ${balancers.length} balancer(s)`,
    });
  }
  return {
    redis,
    monoliths,
    balancers,
    procs: () => [...(redis?.proc ? [redis.proc] : []), ...monoliths.map((m) => m.proc), ...balancers.map((b) => b.proc)],
    async stop() {
      await Promise.all([...balancers, ...monoliths].map((h) => h.stop()));
      await redis?.stop();
    },
  };
}
