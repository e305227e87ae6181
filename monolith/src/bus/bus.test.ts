import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe } from 'vitest';
import { describeBus } from './bus.contract.js';
import { MemoryBus } from './memory-bus.js';
import { RedisBus } from './redis-bus.js';
// The e2e harness' redis-server (a child on a free port, or REDIS_URL): one helper for all tests.
import { startRedis, type RedisHandle } from '../../../e2e/harness/redis.js';

describeBus('memory', { make: async () => new MemoryBus(), shared: false });

describe('redis', () => {
  let redis: RedisHandle;
  let admin: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
  });

  describeBus('redis', {
    shared: true,
    make: async () => RedisBus.connect(redis.url),
    async brokerSubscribers(topic) {
      const [, n] = (await admin.pubsub('NUMSUB', topic)) as [string, number];
      return Number(n);
    },
    async dropConnections() {
      await admin.client('KILL', 'TYPE', 'pubsub');
    },
  });
});
