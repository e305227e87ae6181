import { describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs load generator without type declarations
import { BUCKETS, Histogram } from './histogram.mjs';

describe('Histogram', () => {
  it('keeps quantiles within its 1/32 bucket precision', () => {
    const h = new Histogram();
    const values: number[] = [];
    let x = 12345;
    for (let i = 0; i < 50_000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31; // deterministic, spread over 1 µs .. ~20 s
      const v = Math.floor(Math.exp((x / 2 ** 31) * 17));
      values.push(v);
      h.record(v);
    }
    values.sort((a, b) => a - b);
    for (const q of [0.5, 0.9, 0.99, 0.999]) {
      const exact = values[Math.ceil(q * values.length) - 1]!;
      expect(Math.abs(h.quantile(q) - exact)).toBeLessThanOrEqual(Math.max(1, exact / 32));
    }
    expect(h.max).toBe(values.at(-1));
  });

  it('merges the compact form sent over IPC into the same distribution', () => {
    const a = new Histogram();
    const b = new Histogram();
    const both = new Histogram();
    for (let v = 0; v < 5000; v += 7) {
      (v % 2 ? a : b).record(v);
      both.record(v);
    }
    const merged = Histogram.from(JSON.parse(JSON.stringify(a))).add(JSON.parse(JSON.stringify(b)));
    expect(merged.total).toBe(both.total);
    expect(merged.quantile(0.5)).toBe(both.quantile(0.5));
    expect(merged.quantile(0.99)).toBe(both.quantile(0.99));
    expect(merged.mean()).toBeCloseTo(both.mean());
  });

  it('clamps values outside its range into the end buckets', () => {
    const h = new Histogram();
    h.record(-5);
    h.record(2 ** 40);
    expect(h.counts[0]).toBe(1);
    expect(h.counts[BUCKETS - 1]).toBe(1);
    expect(new Histogram().quantile(0.5)).toBeNaN();
  });
});
