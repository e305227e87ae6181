import { describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs load generator without type declarations
import { median } from './scenarios.mjs';

describe('median', () => {
  it('takes the middle value, or the mean of the two middle ones, of the finite values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([5, null, Number.NaN, undefined])).toBe(5);
    expect(median([])).toBeNull();
  });
});
