import type { Bus } from '../bus/bus.js';
import { RedisBus } from '../bus/redis-bus.js';

/**
 * Room ownership epochs (DESIGN §4): a number that grows every time any monolith loads a room.
 * When two monoliths claim one room, balancers keep the claim with the older (smaller) epoch.
 */
export interface EpochSource {
  next(room: string): Promise<number>;
}

/** Redis INCR: one counter per room shared by every monolith. */
export function redisEpochs(bus: RedisBus): EpochSource {
  return { next: (room) => bus.commands.incr(`gateway:epoch:${room}`) };
}

/** Embedded mode: a single monolith, so a process-local counter is enough. */
export function memoryEpochs(): EpochSource {
  const counters = new Map<string, number>();
  return {
    async next(room) {
      const n = (counters.get(room) ?? 0) + 1;
      counters.set(room, n);
      return n;
    },
  };
}

export function createEpochs(bus: Bus): EpochSource {
  return bus instanceof RedisBus ? redisEpochs(bus) : memoryEpochs();
}
