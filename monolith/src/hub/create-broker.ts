import type { RedisTopology } from '@gateway/server-kit/redis';
import type { Log } from '@gateway/server-kit';
import type { Broker } from './broker.js';
import { MemoryBroker } from './memory-broker.js';
import { RedisBroker } from './redis-broker.js';

/**
 * Picks the broker: Redis when a topology is configured (standalone, cluster or sentinel), else
 * the embedded in-process one (a single monolith).
 */
export function createBroker(topology: RedisTopology | undefined, log: Log): Broker {
  return topology ? RedisBroker.connect(topology, log) : new MemoryBroker();
}
