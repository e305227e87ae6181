import type { Bus } from './bus.js';
import { MemoryBus } from './memory-bus.js';
import { RedisBus } from './redis-bus.js';

export type BusDriver = 'memory' | 'redis';

/** Picks the bus from config: Redis when REDIS_URL is set, else the embedded in-process bus. */
export function createBus(config: { REDIS_URL: string | undefined }, driver: BusDriver = config.REDIS_URL ? 'redis' : 'memory'): Bus {
  switch (driver) {
    case 'memory':
      return new MemoryBus();
    case 'redis':
      if (!config.REDIS_URL) throw new Error('the redis bus needs REDIS_URL');
      return RedisBus.connect(config.REDIS_URL);
    default:
      throw new Error(`unknown bus driver "${driver as string}"`);
  }
}
