import type { Coordination } from './coordination.js';
import { MemoryCoordination } from './memory-coordination.js';
import { RedisCoordination } from './redis-coordination.js';

export type CoordinationDriver = 'memory' | 'redis';

/**
 * Picks coordination: Redis when REDIS_URL is set (its own connection, closed by `close`),
 * else in process memory (a single monolith). Throws on an unknown driver or a redis driver
 * without REDIS_URL.
 */
export function createCoordination(
  config: { REDIS_URL?: string | undefined },
  driver: CoordinationDriver = config.REDIS_URL ? 'redis' : 'memory',
): Coordination {
  switch (driver) {
    case 'memory':
      return new MemoryCoordination();
    case 'redis':
      if (!config.REDIS_URL) throw new Error('redis coordination needs REDIS_URL');
      return RedisCoordination.connect(config.REDIS_URL);
    default:
      throw new Error(`unknown coordination driver "${driver as string}"`);
  }
}
