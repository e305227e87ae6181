import { describe, expect, it } from 'vitest';
import { exponential, fullJitter } from './backoff.js';

describe('back-off', () => {
  it('doubles from the base up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 40, 5000].map((n) => exponential(n, 100, 5000))).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
  });

  it('full jitter draws in [0, exponential) and never reaches the ceiling', () => {
    expect(fullJitter(3, 100, 5000, () => 0)).toBe(0);
    expect(fullJitter(3, 100, 5000, () => 0.5)).toBe(400);
    expect(fullJitter(3, 100, 5000, () => 0.999999)).toBe(799);
    expect(fullJitter(1e6, 100, 5000, () => 0.999999)).toBe(4999);
  });
});
