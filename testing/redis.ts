import { createServer, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { spawnProc, type Proc } from './processes.js';
import { testEnv } from './config.js';
import type { RedisTopology } from '@gateway/server-kit/redis';

/** A standalone topology for `url` (no WAIT), as readRedisTopology makes from REDIS_URL. */
export function standaloneTopology(url: string): RedisTopology {
  return { kind: 'standalone', url, password: undefined, tlsCa: undefined, waitReplicas: 0, waitTimeoutMs: 1000 };
}

export interface RedisHandle {
  url: string;
  /** The same server as a topology, for the services' factories (createBroker, createStore...). */
  topology: RedisTopology;
  /** The spawned server; undefined when REDIS_URL pointed at an external one. */
  proc: Proc | undefined;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/** A port that was free a moment ago (redis-server cannot listen on port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Sends PING over a raw socket; resolves true on `+PONG`. */
export function ping(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    let reply = '';
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
    socket.on('error', () => finish(false));
  });
}

export interface RedisOptions {
  port?: number;
  external?: boolean;
  /**
   * Persistence on: an append-only file in `dir`, fsynced before every reply
   * (`appendfsync always`), so whatever Redis acknowledged survives a kill -9 and a restart with
   * the same `dir`. Off (the default): nothing survives a restart.
   */
  appendOnlyDir?: string;
}

/**
 * A Redis for one test file: `REDIS_URL` when set (used as is; tests use unique room names, so
 * nothing is flushed), else a `redis-server` child on a free port, persistence off unless
 * `appendOnlyDir` is given.
 * `port` restarts one on a known port (after a kill); `external: false` ignores REDIS_URL.
 */
export async function startRedis(opts: RedisOptions = {}): Promise<RedisHandle> {
  const external = testEnv.REDIS_URL;
  if (external && opts.external !== false) return { url: external, topology: standaloneTopology(external), proc: undefined, stop: async () => {}, kill: async () => {} };

  let lastError: unknown;
  // The free port can be taken between probing and binding; try a few (a fixed port: once).
  for (let attempt = 0; attempt < (opts.port ? 1 : 3); attempt++) {
    const port = opts.port ?? (await freePort());
    const proc = spawnProc(
      `redis:${port}`,
      'redis-server',
      [
        '--port', String(port), '--bind', '127.0.0.1', '--save', '',
        ...(opts.appendOnlyDir ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', opts.appendOnlyDir] : ['--appendonly', 'no', '--dir', tmpdir()]),
      ],
      {},
    );
    try {
      await proc.waitForLine((l) => (/ready to accept connections/i.test(l.text) ? true : undefined), 10_000, 'redis ready line');
      if (!(await ping('127.0.0.1', port))) throw new Error(`redis on ${port} does not answer PING\n${proc.tail()}`);
      return {
        url: `redis://127.0.0.1:${port}`,
        topology: standaloneTopology(`redis://127.0.0.1:${port}`),
        proc,
        stop: async () => void (await proc.stop()),
        kill: async () => void (await proc.kill()),
      };
    } catch (err) {
      lastError = err;
      await proc.kill();
    }
  }
  throw lastError;
}
