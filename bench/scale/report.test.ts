import { describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs benchmark module without type declarations
import { FLAT_LIMIT, flatness, formatScale } from './report.mjs';
// @ts-expect-error plain .mjs benchmark module without type declarations
import { BURST, burstRounds, combineRuns, messagesFor, processesFor } from './curve.mjs';

/** One step as curve.mjs records it, the per-connection figures scaled by `x`. */
function point(conns: number, x: number) {
  const fan = (us: number) => ({ messages: 10, subscribers: conns, delivered: 10 * conns, expected: 10 * conns, complete: true, perSec: 1e6, p50Ms: 5, p99Ms: 9, maxMs: 12, msPerBroadcast: conns / 1000, cpuUsPerDelivery: us * x, usPerDeliveryByRole: { balancer: 0.8 * us * x, monolith: 0.1 * us * x }, serverCores: 0.8, genCores: 1, otherCores: 0.05, stealCores: 0 });
  return { conns, connect: { seconds: 1, perSec: 5000, failed: 0 }, perBalancer: [conns / 2, conns / 2], bytesPerConn: { balancer: 2000 * x, monolith: 1000 * x }, marginalBytesPerConn: { balancer: 1900 * x, monolith: 900 * x }, fanout: { closed: fan(8), burst: fan(0.4) } };
}
const curve = (xs: number[]) => ({ steps: [5000, 20000, 50000, 100000], balancers: 6, workers: 6, seconds: 200, points: xs.map((x, i) => point([5000, 20000, 50000, 100000][i]!, x)) });

describe('scale curve flatness', () => {
  it('is flat when every per-connection figure stays within 1.2× of the first step, falling ones included', () => {
    const f = flatness(curve([1, 1.19, 0.7, 1.2]));
    expect(f.limit).toBe(FLAT_LIMIT);
    expect(f.base).toBe(5000);
    expect(f.metrics.balancerBytes.ratios).toEqual([1, 1.19, 0.7, 1.2]);
    expect(f.flat).toBe(true);
  });

  it('is not flat when one figure passes 1.2×, and names which', () => {
    const c = curve([1, 1, 1, 1]);
    c.points[3]!.fanout.burst.cpuUsPerDelivery = 0.4 * 1.25;
    const f = flatness(c);
    expect(Object.entries(f.metrics).filter(([, m]) => !(m as { flat: boolean }).flat).map(([k]) => k)).toEqual(['burstUs']);
    expect(f.flat).toBe(false);
  });

  it('formats one row per step and one verdict row per figure', () => {
    const c = curve([1, 1.1, 1.3, 1]);
    const text: string = formatScale({ ...c, flatness: flatness(c) });
    expect(text).toContain('| 100,000 | 50,000 / 50,000 |');
    expect(text).toContain('| balancers RSS bytes/conn | 1.00× | 1.10× | 1.30× | 1.00× | **no** |');
  });
});

describe('scale curve sizing', () => {
  it('keeps every process below 20,000 sockets and each step near the same deliveries', () => {
    expect(processesFor(100_000)).toBe(6);
    expect(processesFor(5_000)).toBe(1);
    expect(Math.ceil(100_000 / processesFor(100_000))).toBeLessThan(19_000);
    expect([5_000, 20_000, 50_000, 100_000].map((n) => messagesFor(n, 2_500_000, 5, 500))).toEqual([500, 125, 50, 25]);
    expect(messagesFor(1_000_000, 2_500_000, 5, 500)).toBe(5);
    // Bursts keep their size (BURST per socket) and repeat: fewer rounds at more connections.
    expect([5_000, 20_000, 50_000, 100_000].map((n) => burstRounds(n, 2_500_000, 30) * n * BURST)).toEqual([2_500_000, 2_400_000, 3_000_000, 2_000_000]);
  });

  it('combines burst rounds: summed counts and CPU, median latencies, the worst maximum', () => {
    const run = (us: number, p99Ms: number) => ({ subscribers: 10, published: 20, expected: 200, delivered: 200, stalled: false, seconds: 0.5, p50Ms: 1, p99Ms, maxMs: p99Ms + 1, serverUs: us, serverUsByRole: { balancer: us - 10, monolith: 10 }, serverCores: 1, genCores: 1, otherCores: 0, stealCores: 0 });
    const c = combineRuns([run(100, 3), run(300, 5), run(200, 9)]);
    expect(c).toMatchObject({ published: 60, delivered: 600, seconds: 1.5, perSec: 400, p99Ms: 5, maxMs: 10, cpuUsPerDelivery: 1, serverUsByRole: { balancer: 570, monolith: 30 }, stalled: false });
  });
});
