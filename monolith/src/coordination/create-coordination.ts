import type { RedisTopology } from '@gateway/server-kit/redis';
import type { Coordination } from './coordination.js';
import { MemoryCoordination } from './memory-coordination.js';
import { RedisCoordination } from './redis-coordination.js';

/**
 * Picks coordination: Redis when a topology is configured (its own connection, closed by
 * `close`), else in process memory (a single monolith).
 */
export function createCoordination(topology: RedisTopology | undefined): Coordination {
  return topology ? RedisCoordination.connect(topology) : new MemoryCoordination();
}
