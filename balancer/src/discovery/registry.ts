import { Redis } from 'ioredis';
import { REGISTRY_KEY, registryAddress } from '@gateway/protocol';
import { redisRetryDelay, type Log } from '@gateway/server-kit';
import type { Discovery } from './discovery.js';

/**
 * Monoliths from the Redis registry (protocol/src/registry.ts), polled every `pollMs`. A failed
 * read keeps the last known set: a Redis blip must not unlink every monolith.
 */
export function registryDiscovery(url: string, pollMs: number, log: Log): Discovery {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: redisRetryDelay });
  redis.on('error', () => {});
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
