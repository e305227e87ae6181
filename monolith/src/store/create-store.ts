import { Redis } from 'ioredis';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import type { EntityStore } from './store.js';

export type StoreDriver = 'memory' | 'redis';

/**
 * Picks the entity store: Redis when REDIS_URL is set (sharing `redis`, a command connection,
 * when given), else the embedded in-process store.
 */
export function createStore(config: { REDIS_URL?: string | undefined }, redis?: Redis, driver: StoreDriver = config.REDIS_URL ? 'redis' : 'memory'): EntityStore {
  switch (driver) {
    case 'memory':
      return new MemoryStore();
    case 'redis':
      if (!config.REDIS_URL) throw new Error('the redis store needs REDIS_URL');
      return new RedisStore(redis ?? new Redis(config.REDIS_URL));
    default:
      throw new Error(`unknown store driver "${driver as string}"`);
  }
}
