import { openRedis, type RedisClient, type RedisTopology } from '@gateway/server-kit/redis';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import type { EntityStore } from './store.js';

/**
 * Picks the entity store: Redis when a topology is configured, else the embedded in-process
 * store. Redis: the store opens its own command connection (openRedis) and quits it on
 * `close()`; `redis` instead shares a caller's connection (scripts, tests), which `close()`
 * leaves open.
 */
export function createStore(topology: RedisTopology | undefined, redis?: RedisClient): EntityStore {
  if (!topology) return new MemoryStore();
  return redis ? new RedisStore(redis) : new RedisStore(openRedis(topology, 'gateway-store'), true);
}
