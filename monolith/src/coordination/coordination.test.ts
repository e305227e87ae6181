import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REGISTRY_KEY } from '@gateway/protocol';
import { createLog } from '@gateway/server-kit';
// The e2e harness' redis-server (a child on a free port, or REDIS_URL): one helper for all tests.
import { standaloneTopology, startRedis, type RedisHandle } from '../../../testing/redis.js';
import { waitFor } from '../../../testing/wait.js';
import { describeCoordination } from './coordination.contract.js';
import { createCoordination } from './create-coordination.js';
import { MemoryCoordination, memoryEpochs } from './memory-coordination.js';
import { EPOCH_KEY, RedisCoordination, redisEpochs } from './redis-coordination.js';
import { RegistryHeartbeat } from './registry.js';

const log = createLog('test', 'error');

describeCoordination('memory', async () => new MemoryCoordination(), { shared: false });

describe('memory coordination', () => {
  it('epochs grow from 1 across rooms, keeping no per-room state', async () => {
    const epochs = memoryEpochs();
    expect([await epochs.next('a'), await epochs.next('b'), await epochs.next('a')]).toEqual([1, 2, 3]);
  });

  it('the heartbeat keeps an entry listed past its TTL, and withdraws it on stop', async () => {
    const c = new MemoryCoordination();
    const heartbeat = new RegistryHeartbeat(c, 'm1', '127.0.0.1:7001', 300, log);
    heartbeat.start();
    await waitFor(async () => (await c.members()).includes('m1 127.0.0.1:7001'), { timeoutMs: 2000, what: 'the first beat' });
    await new Promise((r) => setTimeout(r, 700)); // two TTLs: only renewals keep it listed
    expect(await c.members()).toEqual(['m1 127.0.0.1:7001']);
    await heartbeat.stop();
    expect(await c.members()).toEqual([]);
  });
});

describe('createCoordination', () => {
  it('picks memory without a Redis topology and Redis with one', async () => {
    expect(createCoordination(undefined)).toBeInstanceOf(MemoryCoordination);
    const redis = createCoordination(standaloneTopology('redis://127.0.0.1:1'));
    expect(redis).toBeInstanceOf(RedisCoordination);
    await redis.close();
  });
});

describe('redis coordination', () => {
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

  describeCoordination('redis', async () => RedisCoordination.connect(redis.topology), { shared: true });

  it('epochs: every room from one key, so loading many rooms leaves one key', async () => {
    await admin.del(EPOCH_KEY);
    const epochs = redisEpochs(admin);
    const taken: number[] = [];
    for (let i = 0; i < 200; i++) taken.push(await epochs.next(`room-${i}`));
    for (let i = 1; i < taken.length; i++) expect(taken[i]).toBe(taken[i - 1]! + 1);
    expect(await admin.keys('gateway:epoch*')).toEqual([EPOCH_KEY]);
  });

  it('epochs keep growing after the counter is lost (a Redis restart without persistence)', async () => {
    const epochs = redisEpochs(admin);
    const before = await epochs.next('r');
    await admin.del(EPOCH_KEY);
    const after = await epochs.next('r');
    expect(after).toBeGreaterThan(before);
    // Seeded from the server clock in microseconds.
    expect(Math.abs(after / 1000 - Date.now())).toBeLessThan(60_000);
    expect(await epochs.next('r')).toBe(after + 1);
  });

  it('writes the registry and single-use keys the balancer and redis-coordination.ts expect', async () => {
    const c = RedisCoordination.connect(redis.topology);
    try {
      const heartbeat = new RegistryHeartbeat(c, 'layout-mono', '10.0.0.9:7100', 5000, log);
      heartbeat.start();
      const member = 'layout-mono 10.0.0.9:7100';
      const score = await waitFor(() => admin.zscore(REGISTRY_KEY, member), { timeoutMs: 2000, what: 'the registry entry' });
      expect(Math.abs(Number(score) - (Date.now() + 5000))).toBeLessThan(2000);
      await heartbeat.stop();
      expect(await admin.zscore(REGISTRY_KEY, member)).toBeNull();

      const key = `gw:wstoken:layout-${Date.now()}`;
      expect(await c.consumeOnce(key, 30)).toBe(true);
      expect(await admin.get(key)).toBe('1');
      const ttl = await admin.ttl(key);
      expect(ttl > 0 && ttl <= 30).toBe(true);
    } finally {
      await c.close();
    }
  });

  it('closes only a connection it opened', async () => {
    const shared = new Redis(redis.url);
    try {
      await new RedisCoordination(shared).close();
      expect(await shared.ping()).toBe('PONG');
      const own = RedisCoordination.connect(redis.topology);
      expect(await own.consumeOnce(`gw:test:own:${Date.now()}`, 5)).toBe(true);
      await own.close();
      await expect(own.consumeOnce(`gw:test:own:${Date.now()}:2`, 5)).rejects.toThrow();
    } finally {
      shared.disconnect();
    }
  });
});
