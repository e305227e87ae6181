import type { Redis } from 'ioredis';
import type { Bus } from '../bus/bus.js';
import { RedisBus } from '../bus/redis-bus.js';

/**
 * Room ownership epochs (DESIGN §4): a number that grows every time any monolith loads a room.
 * When two monoliths claim one room, balancers keep the claim with the older (smaller) epoch.
 *
 * Only the order of two claims on one room matters, so one counter serves every room: a shared
 * counter is as good as one per room, and it leaves one key in Redis instead of one per room
 * ever loaded (which grew without bound). Epochs start at 1; a claim of 0 is malformed.
 */
export interface EpochSource {
  next(room: string): Promise<number>;
}

export const EPOCH_KEY = 'gateway:epoch';

/**
 * INCR on the shared counter. A counter that is missing (a new Redis, or one restarted without
 * persistence) starts from the server's clock in milliseconds, so epochs taken after a Redis
 * restart still order after the claims monoliths made before it.
 */
const NEXT_EPOCH = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  local t = redis.call('TIME')
  -- Built as text: a Lua number this large would be written back in exponent notation.
  redis.call('SET', KEYS[1], t[1] .. string.rep('0', 6 - #t[2]) .. t[2])
  n = redis.call('INCR', KEYS[1])
end
return n`;

/** Redis: one counter shared by every monolith. */
export function redisEpochs(commands: Redis): EpochSource {
  return { next: async () => Number(await commands.eval(NEXT_EPOCH, 1, EPOCH_KEY)) };
}

/** Embedded mode: a single monolith, so a process-local counter (no per-room state) is enough. */
export function memoryEpochs(): EpochSource {
  let counter = 0;
  return { next: async () => ++counter };
}

export function createEpochs(bus: Bus): EpochSource {
  return bus instanceof RedisBus ? redisEpochs(bus.commands) : memoryEpochs();
}
