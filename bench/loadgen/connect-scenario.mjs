/** The connect scenario: opening a group of authenticated connections (scenarios.mjs). */
import { Histogram } from './histogram.mjs';
import { cpuSummary, latency, meter, round } from './measure.mjs';
import { share, shareStart } from './pool.mjs';

/**
 * Opens `count` connections (group, room; with `rooms`, over rooms `<room>-<i mod rooms>`) spread
 * over `urls` round robin and over the workers, each completing the system's auth step; returns
 * connections/s and connect+auth latency.
 */
export async function connect(ctx, { group, count, room, rooms, urls, startIndex = 0, headers, clientPath, clientOptions, track, addrOctet }) {
  const { pool, cfg } = ctx;
  await pool.all(
    'prepare',
    (i) => ({
      group,
      room,
      rooms,
      urls,
      headers,
      clientPath,
      clientOptions,
      track,
      addrOctet,
      startIndex: startIndex + shareStart(count, pool.size, i),
      count: share(count, pool.size, i),
      timeoutMs: cfg.connectTimeoutMs,
    }),
    60_000,
  );
  const m = meter(ctx);
  const results = await pool.all('connect', { inflight: cfg.connectInflight }, cfg.connectPhaseTimeoutMs);
  const cpu = cpuSummary(m.stop());
  const hist = new Histogram();
  const failures = {};
  let connected = 0;
  let failed = 0;
  for (const r of results) {
    hist.add(r.hist);
    connected += r.connected;
    failed += r.failed;
    for (const [why, n] of Object.entries(r.failures)) failures[why] = (failures[why] ?? 0) + n;
  }
  const active = results.filter((r) => r.connected > 0);
  const spanNs = active.length ? Math.max(...active.map((r) => r.endNs)) - Math.min(...active.map((r) => r.startNs)) : NaN;
  return {
    requested: count,
    connected,
    failed,
    failures,
    seconds: round(spanNs / 1e9, 3),
    perSec: Math.round(connected / (spanNs / 1e9)),
    ...latency(hist),
    ...cpu,
  };
}
