import type { Broker } from './broker.js';
import { MemoryBroker } from './memory-broker.js';
import { RedisBroker } from './redis-broker.js';

export type BrokerDriver = 'memory' | 'redis';

/**
 * Picks the broker: Redis when REDIS_URL is set, else the embedded in-process one (a single
 * monolith). Throws on an unknown driver or a redis driver without REDIS_URL.
 */
export function createBroker(config: { REDIS_URL?: string | undefined }, driver: BrokerDriver = config.REDIS_URL ? 'redis' : 'memory'): Broker {
  switch (driver) {
    case 'memory':
      return new MemoryBroker();
    case 'redis':
      if (!config.REDIS_URL) throw new Error('the redis broker needs REDIS_URL');
      return RedisBroker.connect(config.REDIS_URL);
    default:
      throw new Error(`unknown broker driver "${driver as string}"`);
  }
}
