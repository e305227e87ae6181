import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { redisRetryDelay } from './redis-retry.js';
import { followSwitchMaster } from './redis-switch.js';
import type { HostPort, RedisTopology } from './redis-topology.js';

/**
 * The one place the services' ioredis options live (STYLE rule 13), for all three topologies.
 *
 * How connections behave while Redis is away:
 * - `queue` (the default): commands wait in ioredis' offline queue and are retried on the next
 *   connection, failing after `maxRetriesPerRequest` reconnection attempts (about 1 s with the
 *   back-off below) or `commandTimeout`. For reads and idempotent writes (store, coordination).
 * - `fail-fast`: no offline queue, no re-sending of commands that were in flight when the
 *   connection dropped: every command rejects at once while the connection is not ready, and one
 *   in flight rejects when the connection closes. For writes that must not be applied twice or
 *   late without the caller knowing (a publication: the publisher is told to retry, with its
 *   idempotency key, instead of waiting). The caller waits for the first `ready` itself.
 */
export type OfflineMode = 'queue' | 'fail-fast';

/** A connection to any topology: a `Redis` (standalone, sentinel-managed) or a `Cluster`. */
export type RedisClient = Redis | Cluster;

/** ioredis options of one connection to one server (also each node of a cluster). */
export function redisOptions(name: string, mode: OfflineMode = 'queue'): RedisOptions {
  return {
    connectionName: name,
    // Keep retrying forever; monoliths serve local rooms meanwhile.
    retryStrategy: redisRetryDelay,
    lazyConnect: false,
    // Subscriptions are re-issued by their owner on every 'ready' (ioredis' own forgets a
    // SUBSCRIBE that failed during an outage).
    autoResubscribe: false,
    // A Redis that accepts connections but does not answer must not hang a caller forever.
    commandTimeout: 5000,
    ...(mode === 'fail-fast'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false }
      : { enableOfflineQueue: true, maxRetriesPerRequest: 2 }),
  };
}

/** Credentials and TLS of cluster and sentinel-managed nodes. */
function nodeAuth(t: Extract<RedisTopology, { kind: 'cluster' | 'sentinel' }>): RedisOptions {
  return {
    ...(t.username !== undefined ? { username: t.username } : {}),
    ...(t.password !== undefined ? { password: t.password } : {}),
    ...(t.tls ? { tls: t.tls.ca !== undefined ? { ca: t.tls.ca } : {} } : {}),
  };
}

/** ioredis Cluster options for `name` (exported for the sharded subscriber's node connections). */
export function clusterOptions(t: Extract<RedisTopology, { kind: 'cluster' }>, name: string, mode: OfflineMode): ClusterOptions {
  return {
    redisOptions: { ...redisOptions(name, mode), ...nodeAuth(t) },
    clusterRetryStrategy: redisRetryDelay,
    enableOfflineQueue: mode === 'queue',
    // Slot moves and failovers are noticed within a second even by a connection that sends
    // nothing to the moved slot (the sharded subscriber relies on the 'refresh' events).
    slotsRefreshInterval: 1000,
    slotsRefreshTimeout: 2000,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    maxRedirections: 16,
    scaleReads: 'master',
  };
}

/**
 * Opens a connection to the topology, named `name` in CLIENT LIST (a cluster names each node
 * connection so). Connection errors surface as status changes (`status`, 'ready'/'close'
 * events), never as unhandled 'error' events; the owner quits it.
 */
export function openRedis(t: RedisTopology, name: string, mode: OfflineMode = 'queue'): RedisClient {
  let client: RedisClient;
  switch (t.kind) {
    case 'standalone': {
      const tls = t.tlsCa !== undefined ? { tls: { ca: t.tlsCa } } : {};
      client = new Redis(t.url, { ...redisOptions(name, mode), ...(t.password !== undefined ? { password: t.password } : {}), ...tls });
      break;
    }
    case 'cluster':
      client = new Cluster(t.nodes, clusterOptions(t, name, mode));
      break;
    case 'sentinel':
      client = new Redis({
        ...redisOptions(name, mode),
        ...nodeAuth(t),
        sentinels: t.sentinels,
        name: t.name,
        role: 'master',
        ...(t.sentinelPassword !== undefined ? { sentinelPassword: t.sentinelPassword } : {}),
        ...(t.tls ? { enableTLSForSentinelMode: true, sentinelTLS: t.tls.ca !== undefined ? { ca: t.tls.ca } : {} } : {}),
        // +switch-master is followed by followSwitchMaster (below), not ioredis' detector.
        failoverDetector: false,
        sentinelRetryStrategy: redisRetryDelay,
      });
      following.set(client, followSwitchMaster(client, t, name));
      break;
  }
  client.on('error', () => {});
  return client;
}

/** What stops the sentinel watchers of a connection openRedis made (see followSwitchMaster). */
const following = new WeakMap<RedisClient, () => void>();

/**
 * Closes a connection openRedis made, whatever its state: QUIT when it is up (what was sent
 * is answered first), else a disconnect (ioredis' quit is refused by a fail-fast connection that
 * is down, and a disconnect while it waits to reconnect leaves it without an 'end'), and its
 * sentinel watchers with it.
 */
export async function closeRedis(client: RedisClient): Promise<void> {
  following.get(client)?.();
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // fall through: dropped meanwhile
    }
  }
  client.disconnect();
}

/** One standalone connection to one node of a cluster (the sharded subscriber's). */
export function openClusterNode(t: Extract<RedisTopology, { kind: 'cluster' }>, node: HostPort, name: string): Redis {
  const redis = new Redis({ ...redisOptions(name, 'queue'), ...nodeAuth(t), host: node.host, port: node.port });
  redis.on('error', () => {});
  return redis;
}

/** Resolves on the connection's next 'ready' (now if it is ready), or rejects after `timeoutMs`. */
export function whenReady(redis: RedisClient, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('end', onEnd);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const onEnd = () => done(new Error('redis connection closed'));
    const timer = setTimeout(() => done(new Error(`redis not ready within ${timeoutMs} ms`)), timeoutMs);
    redis.on('ready', onReady);
    redis.on('end', onEnd);
  });
}
