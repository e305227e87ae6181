import { REGISTRY_KEY } from '@gateway/protocol';
import { closeRedis, openRedis, type RedisClient, type RedisTopology } from '@gateway/server-kit/redis';
import { checkTtlSeconds, type Coordination, type EpochSource } from './coordination.js';

/**
 * Redis layout (for the README; the balancer's discovery reads the registry):
 * - `gateway:epoch` string: the one epoch counter of every room (INCR via NEXT_EPOCH).
 * - `gw:monoliths` sorted set (REGISTRY_KEY): `<monolith id> <link host:port>` scored by the
 *   time its entry expires (ms since the epoch); expired members are pruned by every announce.
 * - single-use keys as the caller names them (`gw:wstoken:<jti>`): `SET <key> 1 EX <ttl> NX`.
 * Each command and transaction touches one key, so all of it runs on Redis Cluster as is.
 */
export const EPOCH_KEY = 'gateway:epoch';

/**
 * INCR on the shared counter. A counter that is missing (a new Redis, or one restarted without
 * persistence) starts from the server's clock in microseconds, so epochs taken after a Redis
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

/** One counter shared by every monolith on `redis`. */
export function redisEpochs(redis: RedisClient): EpochSource {
  return { next: async () => Number(await redis.eval(NEXT_EPOCH, 1, EPOCH_KEY)) };
}

/** Coordination through Redis, shared by every monolith (and the balancers' discovery). */
export class RedisCoordination implements Coordination {
  readonly epochs: EpochSource;

  /** `owned`: quit `redis` on close (it was opened for this); otherwise its owner does. */
  constructor(
    private readonly redis: RedisClient,
    private readonly owned = false,
  ) {
    this.epochs = redisEpochs(redis);
  }

  static connect(topology: RedisTopology): RedisCoordination {
    return new RedisCoordination(openRedis(topology, 'gateway-coordination'), true);
  }

  async consumeOnce(key: string, ttlSeconds: number): Promise<boolean> {
    checkTtlSeconds(ttlSeconds);
    return (await this.redis.set(key, '1', 'EX', ttlSeconds, 'NX')) === 'OK';
  }

  async announce(member: string, ttlMs: number): Promise<void> {
    const now = Date.now();
    const replies = await this.redis.multi().zadd(REGISTRY_KEY, now + ttlMs, member).zremrangebyscore(REGISTRY_KEY, '-inf', now).exec();
    const failed = replies?.find(([err]) => err);
    if (!replies || failed) throw failed?.[0] ?? new Error('registry transaction aborted');
  }

  async withdraw(member: string): Promise<void> {
    await this.redis.zrem(REGISTRY_KEY, member);
  }

  async members(): Promise<string[]> {
    // The balancer's discovery reads the same range (score >= now).
    return this.redis.zrangebyscore(REGISTRY_KEY, Date.now(), '+inf');
  }

  async close(): Promise<void> {
    if (this.owned) await closeRedis(this.redis);
  }
}
