import type { Redis } from 'ioredis';
import { openRedis } from '../redis/connect.js';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import type { EntityStore } from './store.js';

export type StoreDriver = 'memory' | 'redis';

/**
 * Picks the entity store: Redis when REDIS_URL is set, else the embedded in-process store.
 * Redis: the store opens its own command connection (openRedis) and quits it on `close()`;
 * `redis` instead shares a caller's connection (scripts, tests), which `close()` leaves open.
 * Throws on an unknown driver or a redis driver without REDIS_URL.
 */
export function createStore(config: { REDIS_URL?: string | undefined }, redis?: Redis, driver: StoreDriver = config.REDIS_URL ? 'redis' : 'memory'): EntityStore {
  switch (driver) {
    case 'memory':
      return new MemoryStore();
    case 'redis':
      if (!config.REDIS_URL) throw new Error('the redis store needs REDIS_URL');
      return redis ? new RedisStore(redis) : new RedisStore(openRedis(config.REDIS_URL, 'gateway-store'), true);
    default:
      throw new Error(`unknown store driver "${driver as string}"`);
  }
}
