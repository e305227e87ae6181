/**
 * What the scenarios measure with (scenarios.mjs): CPU meters over the server and generator
 * processes, latency summaries, RSS per connection, Redis command counts, and bounded waits.
 */
import { CpuMeter, rssBytes } from './procstat.mjs';
import { parseCommandStats } from './redis-stats.mjs';

const ms = (us) => Number((us / 1000).toFixed(3));
export const round = (x, digits = 1) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);
export const sleep = (t) => new Promise((r) => setTimeout(r, t));

/** Rejects when `promise` takes longer than `timeoutMs`. */
export function withTimeout(promise, timeoutMs, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${timeoutMs} ms`)), timeoutMs);
    }),
  ]);
}

/** Starts a CPU meter over the server processes, Redis (every node of `ctx.redisPids`, if given) and the workers. */
export function meter(ctx) {
  const procs = [
    ...ctx.handle.processes.map((p) => ({ label: `server:${p.role}`, pid: p.pid })),
    ...(ctx.redisPids ?? [ctx.redisPid]).map((pid) => ({ label: 'server:redis', pid })),
    ...ctx.pool.pids().map((pid) => ({ label: 'generator', pid })),
  ];
  return new CpuMeter(procs).start();
}

/** Server and generator CPU of a meter reading: total µs and cores (CPU time / wall time). */
export function cpuSummary(reading) {
  let serverUs = 0;
  const byRole = {};
  const usByRole = {};
  for (const [label, us] of Object.entries(reading.byLabel)) {
    if (!label.startsWith('server:')) continue;
    serverUs += us;
    byRole[label.slice(7)] = round(us / reading.wallUs, 3);
    usByRole[label.slice(7)] = us;
  }
  const genUs = (reading.byLabel.generator ?? 0) + reading.selfUs;
  // Whatever else ran on the machine meanwhile (a shared box): busy time not ours, and steal.
  const otherUs = Math.max(0, reading.busyUs - serverUs - genUs);
  const cores = (us) => round(us / reading.wallUs, 3);
  return { serverUs, genUs, serverCores: cores(serverUs), genCores: cores(genUs), otherCores: cores(otherUs), stealCores: cores(reading.stealUs), serverCoresByRole: byRole, serverUsByRole: usByRole };
}

export function latency(hist) {
  return { p50Ms: ms(hist.quantile(0.5)), p99Ms: ms(hist.quantile(0.99)), maxMs: ms(hist.max) };
}

/** RSS of every server process after a forced GC, keyed by pid. */
export async function rssAfterGc(ctx) {
  await withTimeout(ctx.handle.gc(), 20_000, 'adapter.gc()');
  return Object.fromEntries(ctx.handle.processes.map((p) => [p.pid, rssBytes(p.pid)]));
}

/** Bytes of RSS growth per connection for each process role (summed over that role's processes). */
export function bytesPerConn(ctx, before, after, conns) {
  const out = {};
  for (const p of ctx.handle.processes) out[p.role] = (out[p.role] ?? 0) + (after[p.pid] - before[p.pid]);
  for (const role of Object.keys(out)) out[role] = Math.round(out[role] / conns);
  return out;
}

/** The median of the finite numbers in `xs` (null if none). */
export function median(xs) {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Calls (or µs) per Redis command so far (INFO commandstats), or null without a Redis connection. */
export async function redisCommands(ctx, field = 'calls') {
  if (!ctx.redis) return null;
  return parseCommandStats(await withTimeout(ctx.redis.info('commandstats'), 5000, 'INFO commandstats'), field);
}
export const redisUsec = (ctx) => redisCommands(ctx, 'usec');
