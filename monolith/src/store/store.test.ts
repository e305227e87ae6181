import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisHandle } from '../../../e2e/harness/redis.js';
import { describeStore } from './store.contract.js';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import { DEMO_GUILDS, loadFixture } from './fixture.js';

describeStore('memory', async () => new MemoryStore());

describe('redis', () => {
  let redis: RedisHandle;
  const clients: Redis[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await redis?.stop();
  });
  describeStore('redis', async () => {
    const c = new Redis(redis.url);
    clients.push(c);
    return new RedisStore(c);
  });

  it('loads the demo fixture, and both stores agree on it', async () => {
    const c = new Redis(redis.url);
    clients.push(c);
    const stores = [new MemoryStore(), new RedisStore(c)];
    for (const s of stores) await loadFixture(s);
    const [mem, red] = await Promise.all(stores.map((s) => s.search('member', DEMO_GUILDS[0].id, 'ali', 50)));
    expect(red).toEqual(mem);
    expect(mem!.map((e) => e.name)).toEqual(expect.arrayContaining(['alice', 'Alicia']));
    expect(await stores[1]!.count('member', DEMO_GUILDS[0].id)).toBe(DEMO_GUILDS[0].members);
  });
});
