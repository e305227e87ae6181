import { REGISTRY_KEY, registryAddress } from '@gateway/protocol';
import { closeRedis, openRedis, type RedisTopology } from '@gateway/server-kit/redis';
import type { Log } from '@gateway/server-kit';
import type { Discovery } from './discovery.js';
import { pollingDiscovery } from './polling.js';

/**
 * Monoliths from the Redis registry (protocol/src/registry.ts), polled every `pollMs`. A failed
 * read keeps the last known set: a Redis blip must not unlink every monolith.
 */
export function registryDiscovery(topology: RedisTopology, pollMs: number, log: Log): Discovery {
  const redis = openRedis(topology, 'gateway-balancer-registry');
  const read = async () => (await redis.zrangebyscore(REGISTRY_KEY, Date.now(), '+inf')).map(registryAddress);
  return pollingDiscovery(read, pollMs, log, { changed: 'registry discovery', failed: 'registry read failed; keeping last set' }, () => void closeRedis(redis));
}
