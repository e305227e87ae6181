import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisTopology } from '@gateway/server-kit/redis';
import { FAST_SYNC_ARGS, spawnRedisNode, type RedisNode } from './redis-nodes.js';
import { infoFields, pairs, redisCommand } from './resp.js';
import { freePort } from './redis.js';
import { waitFor } from './wait.js';


// A real Sentinel set on free loopback ports (see redis-topologies.ts).


export interface RedisSentinel {
  /** "127.0.0.1:S1,127.0.0.1:S2,127.0.0.1:S3", for REDIS_SENTINELS. */
  sentinels: string;
  /** The monitored primary's name, for REDIS_SENTINEL_NAME. */
  name: string;
  /** The data nodes (the first started as the primary, then its replicas) and the three sentinels. */
  servers: RedisNode[];
  sentinelNodes: RedisNode[];
  /** The current primary's port per a sentinel (SENTINEL GET-MASTER-ADDR-BY-NAME). */
  primaryPort(): Promise<number>;
  /**
   * SENTINEL FAILOVER; resolves with the new primary's port once every sentinel reports it and it
   * answers ROLE master (about 1 s), then (unless `waitForOldPrimary: false`) once the old primary
   * replicates from it, so another failover can follow: the sentinels demote a live old primary
   * only after it has kept reporting itself master for 8 s, so this takes about 11 s. Until then
   * the old primary still takes writes, which its full resync then discards.
   */
  failover(opts?: { waitForOldPrimary?: boolean }): Promise<number>;
  /**
   * kill -9 the current primary; resolves with the promoted replica's port once every sentinel
   * reports it, and (with two replicas or more) once every other live replica replicates from it.
   */
  killPrimary(): Promise<number>;
  stop(): Promise<void>;
}

const SENTINEL_NAME = 'gateway-primary';

/**
 * One primary, `replicas` replicas (default 1) and three sentinels (quorum 2, down after 1 s,
 * failover timeout 5 s), on free loopback ports; resolves once every replica is in sync and every
 * sentinel knows the other two and the replicas. Two replicas keep a replica after a failover, so
 * that REDIS_WAIT_REPLICAS=1 can still be met.
 */
export async function startRedisSentinel(opts: { replicas?: number } = {}): Promise<RedisSentinel> {
  const dir = await mkdtemp(join(tmpdir(), 'redis-sentinel-'));
  const servers: RedisNode[] = [];
  const sentinelNodes: RedisNode[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all([...servers, ...sentinelNodes].map((n) => n.proc.kill()));
    await rm(dir, { recursive: true, force: true });
  };
  const name = SENTINEL_NAME;

  const dataNode = (replicaOf: number | undefined): Promise<RedisNode> =>
    spawnRedisNode(
      replicaOf ? 'redis-replica' : 'redis-primary',
      freePort,
      async (port) => {
        const nodeDir = join(dir, String(port));
        await mkdir(nodeDir, { recursive: true });
        return [
          '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no',
          '--save', '', '--appendonly', 'no', '--dir', nodeDir, ...FAST_SYNC_ARGS,
          ...(replicaOf ? ['--replicaof', '127.0.0.1', String(replicaOf)] : []),
        ];
      },
      dir,
    );

  const primaryPort = async (): Promise<number> => {
    let lastError: unknown;
    for (const s of sentinelNodes) {
      try {
        const reply = await redisCommand(s.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name]);
        if (Array.isArray(reply) && reply.length === 2) return Number(reply[1]);
        lastError = new Error(`sentinel ${s.port}: GET-MASTER-ADDR-BY-NAME replied ${JSON.stringify(reply)}`);
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  };

  /** Every sentinel names `port` as the primary, and it answers ROLE master. */
  const promoted = async (port: number): Promise<boolean> => {
    for (const s of sentinelNodes) {
      const reply = await redisCommand(s.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name]);
      if (!Array.isArray(reply) || Number(reply[1]) !== port) return false;
    }
    const role = await redisCommand(port, ['ROLE']);
    return Array.isArray(role) && role[0] === 'master';
  };

  /** `replica` replicates from `primary` with its link up, and every sentinel lists it as a healthy replica. */
  const replicating = async (replica: number, primary: number): Promise<boolean> => {
    const repl = await infoFields(replica, ['INFO', 'replication']);
    if (repl.role !== 'slave' || repl.master_port !== String(primary) || repl.master_link_status !== 'up') return false;
    for (const s of sentinelNodes) {
      const listed = await redisCommand(s.port, ['SENTINEL', 'REPLICAS', name]);
      const entry = (Array.isArray(listed) ? listed : []).map(pairs).find((r) => r.port === String(replica));
      if (entry?.flags !== 'slave') return false;
    }
    return true;
  };

  const othersThan = (port: number): number[] => {
    const others = servers.filter((n) => n.port !== port && !n.proc.exit).map((n) => n.port);
    if (!others.length) throw new Error(`no live data node other than ${port}`);
    return others;
  };
  /**
   * Resolves with the replica of `old` the sentinels settled on: every sentinel names it, it
   * answers ROLE master and every other live candidate replicates from it. Settled, not first
   * promoted: on a loaded machine a second sentinel can start its own failover and promote
   * another replica a second later (seen: the first one is then demoted and resynced).
   */
  const promotedOneOf = (old: number, candidates: number[], timeoutMs: number, what: string): Promise<number> =>
    waitFor(
      async () => {
        for (const port of candidates) {
          if (!(await promoted(port))) continue;
          for (const other of candidates) if (other !== port && !(await replicating(other, port))) return undefined;
          return port;
        }
        return undefined;
      },
      { timeoutMs, intervalMs: 100, what: `${what} (was ${old}), every other replica following it` },
    );

  try {
    const primary = await dataNode(undefined);
    servers.push(primary);
    const replicas: RedisNode[] = [];
    for (let i = 0; i < (opts.replicas ?? 1); i++) replicas.push(await dataNode(primary.port));
    servers.push(...replicas);
    // In sync before the sentinels start: their first INFO of the primary already lists them.
    for (const replica of replicas) {
      await waitFor(async () => (await infoFields(replica.port, ['INFO', 'replication'])).master_link_status === 'up', {
        timeoutMs: 15_000,
        what: `replica ${replica.port} to be in sync`,
      });
    }
    for (let i = 0; i < 3; i++) {
      sentinelNodes.push(
        await spawnRedisNode(
          'redis-sentinel',
          freePort,
          async (port) => {
            // Its own file: a sentinel rewrites it with what it learns (replicas, other sentinels, epochs).
            const conf = join(dir, `sentinel-${port}.conf`);
            await writeFile(
              conf,
              [
                `port ${port}`,
                'bind 127.0.0.1',
                'protected-mode no',
                `dir ${dir}`,
                'sentinel resolve-hostnames no',
                'sentinel announce-hostnames no',
                `sentinel monitor ${name} 127.0.0.1 ${primary.port} 2`,
                `sentinel down-after-milliseconds ${name} 1000`,
                `sentinel failover-timeout ${name} 5000`,
                `sentinel parallel-syncs ${name} 1`,
                '',
              ].join('\n'),
            );
            return [conf, '--sentinel'];
          },
          dir,
        ),
      );
    }
    await waitFor(
      async () => {
        for (const s of sentinelNodes) {
          const master = pairs(await redisCommand(s.port, ['SENTINEL', 'MASTER', name]));
          if (master.flags !== 'master' || master.port !== String(primary.port)) return false;
          const others = await redisCommand(s.port, ['SENTINEL', 'SENTINELS', name]);
          const known = (Array.isArray(others) ? others : []).map(pairs).filter((o) => !o.flags?.includes('down') && !o.flags?.includes('disconnected'));
          if (known.length !== 2) return false;
        }
        for (const replica of replicas) if (!(await replicating(replica.port, primary.port))) return false;
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'every sentinel to know the other two and the replicas' },
    );
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    sentinels: sentinelNodes.map((s) => `127.0.0.1:${s.port}`).join(','),
    name,
    servers,
    sentinelNodes,
    primaryPort,

    async failover(opts = {}) {
      const old = await primaryPort();
      await redisCommand(sentinelNodes[0]!.port, ['SENTINEL', 'FAILOVER', name]);
      const next = await promotedOneOf(old, othersThan(old), 30_000, `sentinel failover from ${old}`);
      if (opts.waitForOldPrimary !== false) {
        await waitFor(() => replicating(old, next), { timeoutMs: 30_000, intervalMs: 100, what: `old primary ${old} to replicate from ${next}` });
      }
      return next;
    },

    async killPrimary() {
      const old = await primaryPort();
      const candidates = othersThan(old);
      await servers.find((n) => n.port === old)!.proc.kill();
      // Down after 1 s, then a leader election; a split vote retries after 2 x failover-timeout.
      return promotedOneOf(old, candidates, 45_000, `sentinels to promote a replica after ${old} was killed`);
    },

    stop,
  };
}


/** A sentinel set as the topology REDIS_SENTINELS + REDIS_SENTINEL_NAME make. */
export function sentinelTopology(sentinels: string, name: string, waitReplicas = 0): RedisTopology {
  const list = sentinels.split(',').map((s) => ({ host: s.slice(0, s.lastIndexOf(':')), port: Number(s.slice(s.lastIndexOf(':') + 1)) }));
  return { kind: 'sentinel', sentinels: list, name, sentinelPassword: undefined, username: undefined, password: undefined, tls: undefined, waitReplicas, waitTimeoutMs: 1000 };
}

