import { describe, expect, it } from 'vitest';
import { fullBucket, isFull, msUntilToken, takeToken } from './token-bucket.js';

describe('token bucket', () => {
  it('allows a burst, then refills at the rate and never beyond the burst', () => {
    const b = fullBucket(0, 3);
    expect([1, 2, 3, 4].map(() => takeToken(b, 0, 2, 3))).toEqual([true, true, true, false]);
    // 2 tokens/s: one more after 500 ms, not before.
    expect(takeToken(b, 499, 2, 3)).toBe(false);
    expect(takeToken(b, 500, 2, 3)).toBe(true);
    // A long idle period refills to the burst only.
    expect([1, 2, 3, 4].map(() => takeToken(b, 60_000, 2, 3))).toEqual([true, true, true, false]);
  });

  it('says how long until the next token (Retry-After), and 0 while one is there', () => {
    const b = fullBucket(0, 1);
    expect(msUntilToken(b, 0, 0.5, 1)).toBe(0);
    expect(takeToken(b, 0, 0.5, 1)).toBe(true);
    expect(msUntilToken(b, 0, 0.5, 1)).toBe(2000);
    expect(msUntilToken(b, 1500, 0.5, 1)).toBe(500);
    expect(takeToken(b, 1999, 0.5, 1)).toBe(false);
    expect(takeToken(b, 2000, 0.5, 1)).toBe(true);
  });

  it('is full again once refilled to the burst, so an idle entry can be forgotten', () => {
    const b = fullBucket(0, 4);
    takeToken(b, 0, 1, 4);
    takeToken(b, 0, 1, 4);
    expect(isFull(b, 1999, 1, 4)).toBe(false);
    expect(isFull(b, 2000, 1, 4)).toBe(true);
  });
});
