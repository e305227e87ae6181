import { describe, expect, it } from 'vitest';
import { Metrics, parseMetrics } from './metrics.js';

describe('Metrics on prom-client', () => {
  it('renders plain series and collect families at scrape time, and parseMetrics reads them back, escapes included', async () => {
    const m = new Metrics();
    const total = m.counter('x_total', 'help');
    total.value = 3;
    m.gauge('x_up', 'help', { address: '127.0.0.1:1', monolith: 'a "b"\\c\nd' }).value = 1;
    m.gauge('x_up', 'help', { address: '127.0.0.1:2', monolith: 'm2' }).value = 0;
    let rooms = 7;
    m.collect('x_rooms', 'help', () => [[{ family: 'room' }, rooms]]);
    const text = await m.render();
    expect(text).toContain('# TYPE x_total counter');
    expect(text).toContain('# TYPE x_up gauge');
    expect(parseMetrics(text, 'x_total')).toEqual([{ labels: {}, value: 3 }]);
    expect(parseMetrics(text, 'x_up')).toEqual([
      { labels: { address: '127.0.0.1:1', monolith: 'a "b"\\c\nd' }, value: 1 },
      { labels: { address: '127.0.0.1:2', monolith: 'm2' }, value: 0 },
    ]);
    expect(parseMetrics(text, 'x_rooms')).toEqual([{ labels: { family: 'room' }, value: 7 }]);
    expect(parseMetrics(text, 'x')).toEqual([]);
    // The hot path writes a number; the next scrape reads the new values.
    total.value++;
    rooms = 8;
    const again = await m.render();
    expect(parseMetrics(again, 'x_total')[0]!.value).toBe(4);
    expect(parseMetrics(again, 'x_rooms')[0]!.value).toBe(8);
  });

  it('has histograms, build info and the default process and Node.js metrics when asked', async () => {
    const m = new Metrics({ service: 'unit', version: '1.2.3', defaults: true });
    const h = m.histogram('x_duration_seconds', 'help', ['event']);
    h.observe({ event: 'ping' }, 0.003);
    h.observe({ event: 'ping' }, 0.2);
    const text = await m.render();
    expect(parseMetrics(text, 'x_duration_seconds_count')).toEqual([{ labels: { event: 'ping' }, value: 2 }]);
    expect(parseMetrics(text, 'x_duration_seconds_bucket').find((s) => s.labels.le === '0.005')?.value).toBe(1);
    expect(parseMetrics(text, 'gateway_build_info')).toEqual([{ labels: { service: 'unit', version: '1.2.3', node: process.version }, value: 1 }]);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(parseMetrics(text, name).length, name).toBeGreaterThan(0);
    }
  });

  it('writes cumulative buckets, +Inf, sum and count per labelled series, and times with startTimer', async () => {
    const m = new Metrics();
    const h = m.histogram('x_wait_seconds', 'help', ['event'], [0.1, 1]);
    const ping = h.labels({ event: 'ping' });
    expect(h.labels({ event: 'ping' })).toBe(ping);
    for (const v of [0.05, 0.1, 0.5, 7]) ping.observe(v);
    h.observe({ event: 'pool' }, 2);
    const seconds = h.startTimer({ event: 'timed' })();
    const text = await m.render();
    const buckets = (event: string) => parseMetrics(text, 'x_wait_seconds_bucket').filter((s) => s.labels.event === event).map((s) => [s.labels.le, s.value]);
    // The upper bound is inclusive (Prometheus `le`): 0.1 counts in the 0.1 bucket.
    expect(buckets('ping')).toEqual([['0.1', 2], ['1', 3], ['+Inf', 4]]);
    expect(buckets('pool')).toEqual([['0.1', 0], ['1', 0], ['+Inf', 1]]);
    expect(parseMetrics(text, 'x_wait_seconds_sum').find((s) => s.labels.event === 'ping')?.value).toBeCloseTo(7.65);
    expect(parseMetrics(text, 'x_wait_seconds_count').find((s) => s.labels.event === 'timed')?.value).toBe(1);
    expect(seconds).toBeGreaterThanOrEqual(0);
    expect(text).toContain('# TYPE x_wait_seconds histogram');
  });

  it('ignores values that are not finite, exports an unlabelled histogram from the start, and resets in place', async () => {
    const m = new Metrics();
    const idle = m.histogram('x_idle_seconds', 'help');
    expect(parseMetrics(await m.render(), 'x_idle_seconds_count')).toEqual([{ labels: {}, value: 0 }]);
    const h = m.histogram('x_delay_seconds', 'help', ['event']);
    const kept = h.labels({ event: 'pub' });
    kept.observe(Number.NaN);
    kept.observe(Number.POSITIVE_INFINITY);
    kept.observe(0.2);
    const text = await m.render();
    expect(parseMetrics(text, 'x_delay_seconds_sum')).toEqual([{ labels: { event: 'pub' }, value: 0.2 }]);
    expect(parseMetrics(text, 'x_delay_seconds_count')).toEqual([{ labels: { event: 'pub' }, value: 1 }]);
    m.registry.resetMetrics();
    kept.observe(0.3);
    idle.observe(1);
    const after = await m.render();
    expect(parseMetrics(after, 'x_delay_seconds_count')).toEqual([{ labels: { event: 'pub' }, value: 1 }]);
    expect(parseMetrics(after, 'x_delay_seconds_sum')).toEqual([{ labels: { event: 'pub' }, value: 0.3 }]);
    expect(parseMetrics(after, 'x_idle_seconds_count')).toEqual([{ labels: {}, value: 1 }]);
    expect(() => m.histogram('x_bad_seconds', 'help', ['le'])).toThrow(/le/);
  });
});
