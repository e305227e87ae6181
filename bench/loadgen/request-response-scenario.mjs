/** The request/response scenario: closed-loop ping → pong (scenarios.mjs). */
import { Histogram } from './histogram.mjs';
import { cpuSummary, latency, meter, round } from './measure.mjs';
import { share } from './pool.mjs';

/** Closed-loop ping → pong on `group` at each concurrency. */
export async function requestResponse(ctx, { group, concurrencies }) {
  const { pool, cfg } = ctx;
  const out = [];
  for (const c of concurrencies) {
    const m = meter(ctx);
    const results = await pool.all('ping', (i) => ({ group, concurrency: share(c, pool.size, i), durationMs: cfg.pingMs }), cfg.pingMs + 15_000);
    const cpu = cpuSummary(m.stop());
    const hist = new Histogram();
    let count = 0;
    let inWindow = 0;
    let lost = 0;
    let members = 0;
    let windowNs = 0;
    for (const r of results) {
      hist.add(r.hist);
      count += r.count;
      inWindow += r.inWindow;
      lost += r.lost;
      members += r.members;
      windowNs = Math.max(windowNs, r.windowNs);
    }
    out.push({
      concurrency: c,
      sockets: members,
      perSec: Math.round(inWindow / (windowNs / 1e9)),
      ...latency(hist),
      lost,
      cpuUsPerRt: round(cpu.serverUs / count, 3),
      ...cpu,
    });
    ctx.log(`    c=${c}: ${out.at(-1).perSec} rt/s p50 ${out.at(-1).p50Ms} ms p99 ${out.at(-1).p99Ms} ms, ${out.at(-1).cpuUsPerRt} µs CPU/rt`);
  }
  return out;
}
