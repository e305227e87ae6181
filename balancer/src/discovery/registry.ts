import { REGISTRY_KEY, registryAddress } from '@gateway/protocol';
import { openRedis, type RedisTopology } from '@gateway/server-kit/redis';
import type { Log } from '@gateway/server-kit';
import type { Discovery } from './discovery.js';

/**
 * Monoliths from the Redis registry (protocol/src/registry.ts), polled every `pollMs`. A failed
 * read keeps the last known set: a Redis blip must not unlink every monolith.
 */
export function registryDiscovery(topology: RedisTopology, pollMs: number, log: Log): Discovery {
  const redis = openRedis(topology, 'gateway-balancer-registry');
  let timer: NodeJS.Timeout | undefined;
  let last = '';
  let stopped = false;
  return {
    start(onChange) {
      const poll = async () => {
        try {
          const members = await redis.zrangebyscore(REGISTRY_KEY, Date.now(), '+inf');
          const addresses = [...new Set(members.map(registryAddress))].sort();
          const key = addresses.join(',');
          if (key !== last && !stopped) {
            last = key;
            log.info('registry discovery', { addresses });
            onChange(addresses);
          }
        } catch (err) {
          log.warn('registry read failed; keeping last set', { err: (err as Error).message });
        }
        if (!stopped) timer = setTimeout(poll, pollMs);
      };
      void poll();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      redis.disconnect();
    },
  };
}
