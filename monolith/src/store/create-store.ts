import { Redis } from 'ioredis';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import type { EntityStore } from './store.js';

export type StoreDriver = 'memory' | 'redis';

/**
 * Picks the entity store: Redis when REDIS_URL is set, else the embedded in-process store.
 * `redis` is a command connection to share (the bus'); without it the store opens its own and
 * closes it on `close()`. Throws on an unknown driver or a redis driver without REDIS_URL.
 */
export function createStore(config: { REDIS_URL?: string | undefined }, redis?: Redis, driver: StoreDriver = config.REDIS_URL ? 'redis' : 'memory'): EntityStore {
  switch (driver) {
    case 'memory':
      return new MemoryStore();
    case 'redis':
      if (!config.REDIS_URL) throw new Error('the redis store needs REDIS_URL');
      return redis ? new RedisStore(redis) : new RedisStore(new Redis(config.REDIS_URL), true);
    default:
      throw new Error(`unknown store driver "${driver as string}"`);
  }
}
