import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe } from 'vitest';
import { describeBus } from './bus.contract.js';
import { MemoryBus } from './memory-bus.js';
import { RedisBus } from './redis-bus.js';
import { startTestRedis, type TestRedis } from '../testing/redis-server.js';

describeBus('memory', { make: async () => new MemoryBus(), shared: false });

describe('redis', () => {
  let redis: TestRedis;
  let admin: Redis;
  beforeAll(async () => {
    redis = await startTestRedis();
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
