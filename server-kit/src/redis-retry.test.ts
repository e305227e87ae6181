import { describe, expect, it } from 'vitest';
import { redisRetryDelay } from './redis-retry.js';

describe('Redis retry delay', () => {
  it('retries Redis every 5 s at most', () => {
    expect(redisRetryDelay(0)).toBe(100);
    expect(redisRetryDelay(1000)).toBe(5000);
  });
});
