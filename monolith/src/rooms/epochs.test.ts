import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EPOCH_KEY, memoryEpochs, redisEpochs } from './epochs.js';
import { startRedis, type RedisHandle } from '../../../e2e/harness/redis.js';

describe('memory epochs', () => {
  it('grow from 1 across rooms, keeping no per-room state', async () => {
    const epochs = memoryEpochs();
    expect([await epochs.next('a'), await epochs.next('b'), await epochs.next('a')]).toEqual([1, 2, 3]);
  });
});

describe('redis epochs', () => {
  let redis: RedisHandle;
  let commands: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    commands = new Redis(redis.url);
  });
  afterAll(async () => {
    commands?.disconnect();
    await redis?.stop();
  });

  it('take every room from one key, so loading many rooms leaves one key', async () => {
    await commands.del(EPOCH_KEY);
    const epochs = redisEpochs(commands);
    const taken: number[] = [];
    for (let i = 0; i < 200; i++) taken.push(await epochs.next(`room-${i}`));
    for (let i = 1; i < taken.length; i++) expect(taken[i]).toBe(taken[i - 1]! + 1);
    expect(await commands.keys('gateway:epoch*')).toEqual([EPOCH_KEY]);
  });

  it('keep growing after the counter is lost (a Redis restart without persistence)', async () => {
    const epochs = redisEpochs(commands);
    const before = await epochs.next('r');
    await commands.del(EPOCH_KEY);
    const after = await epochs.next('r');
    expect(after).toBeGreaterThan(before);
    // Seeded from the server clock in microseconds.
    expect(Math.abs(after / 1000 - Date.now())).toBeLessThan(60_000);
    expect(await epochs.next('r')).toBe(after + 1);
  });
});
