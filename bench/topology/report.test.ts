import { describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs benchmark module without type declarations
import { formatTopology, summarize } from './report.mjs';

/** One run as compare.mjs records it, with the figures the summary reads scaled by `x`. */
function run(topology: string, x: number, nodes: Array<{ publications: number; cpuUsPerPublication: number }>) {
  const fan = (us: number) => ({
    deliveriesPerSec: 1000 * x,
    publicationsPerSec: 50 * x,
    p50Ms: 1,
    p99Ms: 2,
    cpuUsPerDelivery: 4 * x,
    usPerDelivery: { redis: 1, monolith: 0.5 * x, balancer: us * x },
    usPerPublication: { redis: 20 * x, monolith: 10 * x, balancer: 40 * x },
    otherCores: 0.1,
    stealCores: 0,
  });
  return {
    topology,
    publish: {
      perSec: 10_000 / x,
      p50Ms: 1,
      p99Ms: 3,
      usPerPublication: { redis: 20 * x, redisScript: 15 * x, monolith: 12 * x, balancer: 15 * x, publisher: 14 * x },
      redisCores: 0.4,
      nodes,
      redisBytesPerStream: 20_000,
      historyEntriesPerStream: 100,
      otherCores: 0.2,
      stealCores: 0,
    },
    fanout: { subscribers: 4000, streams: 200, closed: fan(10), burst: fan(2) },
  };
}

describe('summarize (Redis topology comparison)', () => {
  const cfg = { topology: { rounds: 2, primaries: 3, publish: { lanes: 64, streams: 1000, durationMs: 5000 }, fanout: { subscribers: 4000, streams: 200, fanoutClosedMessages: 100, fanoutClosedMaxMs: 5000, fanoutBurstMessages: 20 } } };
  const one = [{ publications: 900, cpuUsPerPublication: 20 }];
  const three = [
    { publications: 300, cpuUsPerPublication: 30 },
    { publications: 450, cpuUsPerPublication: 31 },
    { publications: 150, cpuUsPerPublication: 40 },
  ];
  const result = summarize([run('standalone', 1, one), run('cluster', 1.4, three), run('cluster', 1.6, three), run('standalone', 1, one)], cfg);
  const row = (label: string) => result.rows.find((r: { label: string }) => r.label.startsWith(label));

  it('takes medians over the rounds of each topology and divides cluster by standalone', () => {
    expect(row('publish: Redis CPU').standalone).toBe(20);
    expect(row('publish: Redis CPU').cluster).toBeCloseTo(30);
    expect(row('publish: Redis CPU').ratio).toBe(1.5);
    expect(row('fan-out closed: p50 / p99').ratio).toEqual([1, 1]);
  });

  it('reports how unevenly publications fall on the nodes (busiest ÷ mean)', () => {
    expect(row('publish: busiest node').standalone).toBe(1);
    expect(row('publish: busiest node').cluster).toBe(1.5);
  });

  it('gives per-unit costs per topology, the per-node one as the median over nodes', () => {
    expect(result.unitCosts.cluster.redisUsPerPublicationPerNode).toBe(31);
    expect(result.unitCosts.standalone.redisBytesPerHistoryEntry).toBe(200);
    expect(result.unitCosts.standalone.balancerUsPerDeliveryClosed).toBe(10);
    expect(result.unitCosts.cluster.balancerUsPerDeliveryBurst).toBe(3);
    expect(result.unitCosts.cluster.k).toBe(20);
  });

  it('prints both tables', () => {
    const text = formatTopology(result);
    expect(text).toContain('| publish: Redis CPU µs/publication (all nodes) | 20.0 | 30.0 | 1.50 |');
    expect(text).toContain('| balancers per delivery, burst (messages share writes) | 2.00 | 3.00 |');
  });
});
