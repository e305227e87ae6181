#!/usr/bin/env node
/**
 * Side-by-side benchmark (`npm run bench`, `npm run bench -- --quick`): starts one redis-server,
 * then for each system (bench/systems/<name>.mjs: gateway, uws-raw, uws-relay, ws-loop, socketio) starts it,
 * drives it from a pool of load-generator processes through the scenarios (connect + idle,
 * fan-out, request/response, reconnect storm; for the gateway also fan-out with history on vs
 * off and a recovery storm), stops it; then `redis-topology` compares the gateway on a standalone
 * Redis with it on a local 3-primary Redis Cluster (bench/topology/compare.mjs, with Redis
 * processes of its own); `scale-curve` runs the gateway over several balancer and generator
 * processes from 5k to 100k connections (bench/scale/curve.mjs, its own Redis); finally it
 * prints tables, writes bench/results/<timestamp>.json (and
 * latest.json) and redraws figures/bench.svg.
 *
 *   node bench/run.mjs [--quick] [--systems gateway,uws-raw,redis-topology,scale-curve] [--workers 4] [--storm-clients N] [--reqresp-only]
 *                      [--scale-steps 5000,20000,50000,100000] [--scale-system gateway|uws-raw] [--system-dir <dir>]
 *                      [--idle 5000,19000] [--idle-only [--idle-settle <seconds>]]
 *
 * Everything listens on 127.0.0.1, every wait is bounded, and on any failure everything started
 * is stopped (by pid) and the exit status is non-zero.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createPool } from './loadgen/pool.mjs';
import { formatReport } from './loadgen/report.mjs';
import * as scenario from './loadgen/scenarios.mjs';
import { lastGcReport, sourceState, startRedisServer } from './systems/processes.mjs';
import { scaleCurve } from './scale/curve.mjs';
import { formatScale } from './scale/report.mjs';
import { compareTopologies } from './topology/compare.mjs';
import { formatTopology } from './topology/report.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const ALL_SYSTEMS = ['gateway', 'uws-raw', 'uws-relay', 'ws-loop', 'socketio'];
// Not a system: the gateway on standalone Redis vs Redis Cluster (bench/topology/).
const TOPOLOGY = 'redis-topology';
// Not a system either: the gateway from 5k to ~100k connections over several processes (bench/scale/).
const SCALE = 'scale-curve';
const ALL = [...ALL_SYSTEMS, TOPOLOGY, SCALE];
const JWT_SECRET = 'bench-jwt-secret-0123456789abcdef';
const ROOM = 'bench-fanout';

const COMMON = {
  connectInflight: 64, // per worker: bounded so the listen backlog, not SYN retries, sets the pace
  connectTimeoutMs: 10_000,
  connectPhaseTimeoutMs: 240_000,
  fanoutMessageTimeoutMs: 5_000,
  stormBaseMs: 100,
  stormCapMs: 5_000,
  // Recovery storm (gateway): publications each client misses while its balancer is down.
  recoveryMissed: 100,
};
// Redis topology comparison: publish rate (one subscriber per stream), then fan-out over many
// streams (fanout-scenarios.mjs settings, each message published to every stream).
const TOPOLOGY_MODES = {
  quick: { rounds: 2, primaries: 3, publish: { streams: 1_000, lanes: 64, durationMs: 5_000 }, fanout: { subscribers: 4_000, streams: 201, fanoutClosedMessages: 100, fanoutClosedMaxMs: 5_000, fanoutBurstMessages: 60, fanoutBurstTimeoutMs: 30_000, fanoutMessageTimeoutMs: 5_000 } },
  full: { rounds: 2, primaries: 3, publish: { streams: 1_000, lanes: 64, durationMs: 15_000 }, fanout: { subscribers: 10_000, streams: 501, fanoutClosedMessages: 300, fanoutClosedMaxMs: 15_000, fanoutBurstMessages: 40, fanoutBurstTimeoutMs: 60_000, fanoutMessageTimeoutMs: 5_000 } },
};
// Scale curve: connections per step; each step's fan-out publishes about this many deliveries.
const SCALE_COMMON = { closedDeliveries: 1_000_000, burstDeliveries: 2_500_000, minMessages: 5, maxClosedMessages: 200, maxBurstRounds: 30, deadlineMs: 15 * 60_000 };
const SCALE_MODES = {
  quick: { ...SCALE_COMMON, steps: [5_000, 20_000] },
  full: { ...SCALE_COMMON, steps: [5_000, 20_000, 50_000, 100_000] },
};
const MODES = {
  quick: { ...COMMON, topology: TOPOLOGY_MODES.quick, scale: SCALE_MODES.quick, idle: [5_000], fanoutClosedMessages: 150, fanoutClosedMaxMs: 5_000, fanoutBurstMessages: 100, fanoutBurstTimeoutMs: 20_000, historyRounds: 2, historyClosedMessages: 30, historyBurstMessages: 100, concurrencies: [10, 100], pingMs: 3_000, stormClients: 5_000, stormTimeoutMs: 30_000, deadlineMs: 8 * 60_000 },
  full: { ...COMMON, topology: TOPOLOGY_MODES.full, scale: SCALE_MODES.full, idle: [5_000, 19_000], fanoutClosedMessages: 1_000, fanoutClosedMaxMs: 20_000, fanoutBurstMessages: 500, fanoutBurstTimeoutMs: 60_000, historyRounds: 4, historyClosedMessages: 300, historyBurstMessages: 500, concurrencies: [1, 10, 100, 1000], pingMs: 10_000, stormClients: 19_000, stormTimeoutMs: 120_000, deadlineMs: 50 * 60_000 },
};

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    systems: { type: 'string', default: ALL.join(',') },
    workers: { type: 'string', default: '4' },
    'system-dir': { type: 'string', default: join(here, 'systems') },
    // Clients of both storms (plain and recovery), instead of the mode's.
    'storm-clients': { type: 'string' },
    // Connections of each scale-curve step, instead of the mode's: 5000,20000,50000,100000.
    'scale-steps': { type: 'string' },
    // The scale curve's system: gateway, or uws-raw (the machine's ceiling at the same counts).
    'scale-system': { type: 'string', default: 'gateway' },
    // Only connect and request/response (with direct-to-monolith), e.g. to compare one change.
    'reqresp-only': { type: 'boolean', default: false },
    // Only connect and idle memory (RSS and V8 heap per connection), e.g. to compare one change.
    'idle-only': { type: 'boolean', default: false },
    // Connections of the idle steps, instead of the mode's: 5000,19000 (the second step's
    // figures are over all connections since the start, the heap slope between the two).
    idle: { type: 'string' },
    // With --idle-only: seconds to leave every process idle before the start-up baseline and
    // again before each idle figure, so V8's memory reducer (which returns the young
    // generation's pages some 45-90 s after a burst) has run. 0: measure right after the burst.
    'idle-settle': { type: 'string', default: '0' },
  },
});
const mode = args.quick ? 'quick' : 'full';
const cfg = { ...MODES[mode], ...(args['storm-clients'] ? { stormClients: Number(args['storm-clients']) } : {}) };
if (!(Number.isInteger(cfg.stormClients) && cfg.stormClients > 0)) throw new Error('--storm-clients must be a positive integer');
if (args.idle) cfg.idle = args.idle.split(',').map(Number);
if (!(cfg.idle.length <= 2 && cfg.idle.every((n, i, a) => Number.isInteger(n) && n > 0 && (i === 0 || n > a[i - 1])))) throw new Error('--idle must be one or two increasing positive integers');
if (args['idle-only'] && args['reqresp-only']) throw new Error('--idle-only and --reqresp-only exclude each other');
const idleSettleMs = Number(args['idle-settle']) * 1000;
if (!(Number.isFinite(idleSettleMs) && idleSettleMs >= 0)) throw new Error('--idle-settle must be a number of seconds');
if (idleSettleMs > 0 && !args['idle-only']) throw new Error('--idle-settle needs --idle-only');
cfg.idleSettleS = idleSettleMs / 1000;
if (args['scale-steps']) cfg.scale = { ...cfg.scale, steps: args['scale-steps'].split(',').map(Number) };
if (!cfg.scale.steps.every((n, i, a) => Number.isInteger(n) && n > 0 && (i === 0 || n > a[i - 1]))) throw new Error('--scale-steps must be increasing positive integers');
const systems = args.systems.split(',').map((s) => s.trim()).filter(Boolean);
const workers = Number(args.workers);
const log = (text) => process.stdout.write(`${text}\n`);

/** What is running and must be stopped on the way out, newest last. */
const cleanups = [];
let cleaning = null;
function cleanupAll() {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const fn = cleanups.pop();
      await Promise.race([fn().catch((err) => log(`cleanup: ${err.message}`)), new Promise((r) => setTimeout(r, 10_000))]);
    }
  })();
  return cleaning;
}
async function fail(err) {
  process.stderr.write(`bench: ${err?.stack ?? err}\n`);
  await cleanupAll();
  process.exit(1);
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => fail(new Error(`${sig} received`)));
// Each system idles three times when asked to settle.
cfg.deadlineMs += systems.length * 3 * idleSettleMs;
const watchdog = setTimeout(() => fail(new Error(`whole run exceeded ${cfg.deadlineMs / 60_000} minutes`)), cfg.deadlineMs);

/** One redis-server for the whole run, without persistence, stopped by pid on the way out. */
async function startRedis() {
  const redis = await startRedisServer();
  cleanups.push(() => redis.stop());
  return redis;
}

/** Runs every scenario against one system; returns its results. */
async function runSystem(name, index, redis, addrBase) {
  const systemPath = resolve(args['system-dir'], `${name}.mjs`);
  const system = (await import(pathToFileURL(systemPath).href)).default;
  const octet = (k) => addrBase + index * 4 + k; // distinct client source addresses per group
  const res = { name, label: system.label ?? name, loadavgBefore: loadavg().map((x) => Number(x.toFixed(2))) };
  const started = Date.now();
  log(`\n## ${res.label} (${name})`);

  const handle = await scenario.withTimeout(system.start({ redisUrl: redis.url, jwtSecret: JWT_SECRET, balancers: 2, host: '127.0.0.1' }), 60_000, `${name} start`);
  const stopHandle = () => scenario.withTimeout(handle.stop(), 20_000, `${name} stop`);
  cleanups.push(stopHandle);
  const pool = await createPool({ size: workers, systemPath, jwtSecret: JWT_SECRET });
  cleanups.push(() => pool.stop());
  // INFO commandstats around the storms: Redis commands per reconnecting client.
  const info = new Redis(redis.url, { connectionName: 'bench-info' });
  cleanups.push(async () => info.disconnect());
  const ctx = { pool, handle, system, cfg, redisPid: redis.pid, redis: info, log };
  /** Stops the INFO connection, the load generators and the system (newest first), and times the run. */
  const finish = async () => {
    info.disconnect();
    cleanups.pop();
    await pool.stop();
    cleanups.pop();
    await stopHandle();
    cleanups.pop();
    res.seconds = Math.round((Date.now() - started) / 1000);
    return res;
  };
  // The gateway publishes positioned streams and can switch history off (INTERFACE.md, Changes).
  const delivery = typeof handle.setHistory === 'function';
  res.processes = handle.processes.map(({ role, pid }) => ({ role, pid }));
  res.urls = handle.urls;
  log(`  started: ${res.processes.map((p) => `${p.role} ${p.pid}`).join(', ')}; urls ${handle.urls.join(' ')}`);

  const settle = async (what) => {
    if (idleSettleMs === 0) return;
    log(`  idle for ${idleSettleMs / 1000} s ${what} (V8's memory reducer)`);
    await new Promise((r) => setTimeout(r, idleSettleMs));
  };
  await settle('before the baseline');
  const rss0 = await scenario.rssAfterGc(ctx);
  const heap0 = heapUsed(ctx);
  const heapTotal0 = heapUsed(ctx, 'heapTotal');
  const [n1, n2] = cfg.idle;
  const c1 = await scenario.connect(ctx, { group: 'main', count: n1, room: ROOM, urls: handle.urls, addrOctet: octet(0) });
  if (c1.connected < n1 * 0.5) throw new Error(`${name}: only ${c1.connected} of ${n1} connections (${JSON.stringify(c1.failures)})`);
  log(`  connect: ${c1.connected}/${n1} in ${c1.seconds} s = ${c1.perSec}/s (${c1.failed} failed attempts${c1.failed ? `: ${JSON.stringify(c1.failures)}` : ''})`);
  await settle('after the first burst');
  const rss1 = await scenario.rssAfterGc(ctx);
  const heap1 = heapUsed(ctx);
  res.idle = [{ conns: c1.connected, bytesPerConn: scenario.bytesPerConn(ctx, rss0, rss1, c1.connected), heapBytesPerConn: scenario.bytesPerConn(ctx, heap0, heap1, c1.connected) }];
  log(`  idle @${c1.connected}: ${JSON.stringify(res.idle[0].bytesPerConn)} bytes/conn of RSS, ${JSON.stringify(res.idle[0].heapBytesPerConn)} of V8 heap`);

  if (args['idle-only']) {
    if (n2) {
      const c2 = await scenario.connect(ctx, { group: 'more', count: n2 - n1, startIndex: n1, room: `${ROOM}-idle`, urls: handle.urls, addrOctet: octet(0) });
      log(`  connect: ${c2.connected}/${n2 - n1} more in ${c2.seconds} s = ${c2.perSec}/s (${c2.failed} failed attempts)`);
      await settle('after the burst');
      const rss2 = await scenario.rssAfterGc(ctx);
      const heap2 = heapUsed(ctx);
      const heapTotal2 = heapUsed(ctx, 'heapTotal');
      const conns = c1.connected + c2.connected;
      res.idle.push({
        conns,
        bytesPerConn: scenario.bytesPerConn(ctx, rss0, rss2, conns),
        heapBytesPerConn: scenario.bytesPerConn(ctx, heap0, heap2, conns),
        // The V8 heap's pages (used or not): RSS above this is native memory (uWS, malloc).
        heapTotalBytesPerConn: scenario.bytesPerConn(ctx, heapTotal0, heapTotal2, conns),
        // What each further connection costs, without the start-up and the first burst.
        heapSlopePerConn: scenario.bytesPerConn(ctx, heap1, heap2, c2.connected),
        rssSlopePerConn: scenario.bytesPerConn(ctx, rss1, rss2, c2.connected),
      });
      const r = res.idle[1];
      log(`  idle @${conns}: ${JSON.stringify(r.bytesPerConn)} bytes/conn of RSS, ${JSON.stringify(r.heapBytesPerConn)} of V8 heap (${JSON.stringify(r.heapTotalBytesPerConn)} of heap pages); from ${c1.connected} to ${conns}: RSS ${JSON.stringify(r.rssSlopePerConn)}, heap ${JSON.stringify(r.heapSlopePerConn)} per connection`);
    }
    await pool.all('close', { group: 'main' }, 30_000);
    await pool.all('close', { group: 'more' }, 30_000);
    return finish();
  }

  const all = !args['reqresp-only'];
  if (all) res.fanout = await scenario.fanout(ctx, { group: 'main', room: ROOM });
  for (const k of all ? ['closed', 'burst'] : []) {
    const f = res.fanout[k];
    log(`  fan-out ${k}: ${f.delivered}/${f.expected} deliveries, ${f.perSec}/s, p50 ${f.p50Ms} ms p99 ${f.p99Ms} ms, ${f.cpuUsPerDelivery} µs CPU/delivery`);
  }
  if (delivery && all) {
    log(`  fan-out, history on vs off (${cfg.historyRounds} rounds, alternating):`);
    res.history = await scenario.fanoutHistory(ctx, { group: 'main', room: ROOM, rounds: cfg.historyRounds, seqFrom: res.fanout.nextSeq });
    const r = res.history.ratio;
    log(`  history on ÷ off (medians): CPU/delivery closed ${r.closed.cpuUsPerDelivery}×, burst ${r.burst.cpuUsPerDelivery}×; publish rate closed ${r.closed.publishPerSec}×, burst ${r.burst.publishPerSec}×; p99 closed ${r.closed.p99Ms}×, burst ${r.burst.p99Ms}×`);
  }

  log('  request/response:');
  res.reqresp = await scenario.requestResponse(ctx, { group: 'main', concurrencies: cfg.concurrencies });
  res.direct = await direct(ctx, system, systemPath, handle, octet(1));

  const phases = [c1];
  if (n2 && all) {
    const c2 = await scenario.connect(ctx, { group: 'more', count: n2 - n1, startIndex: n1, room: `${ROOM}-idle`, urls: handle.urls, addrOctet: octet(0) });
    log(`  connect: ${c2.connected}/${n2 - n1} more in ${c2.seconds} s = ${c2.perSec}/s (${c2.failed} failed attempts${c2.failed ? `: ${JSON.stringify(c2.failures)}` : ''})`);
    phases.push(c2);
    const rss2 = await scenario.rssAfterGc(ctx);
    const conns = c1.connected + c2.connected;
    res.idle.push({ conns, bytesPerConn: scenario.bytesPerConn(ctx, rss0, rss2, conns) });
    log(`  idle @${conns}: ${JSON.stringify(res.idle[1].bytesPerConn)} bytes/conn`);
  }
  const conns = phases.reduce((s, p) => s + p.connected, 0);
  const seconds = phases.reduce((s, p) => s + p.seconds, 0);
  res.connect = { conns, failed: phases.reduce((s, p) => s + p.failed, 0), perSec: Math.round(conns / seconds), phases };
  res.unexpectedCloses = (await pool.all('status', {}, 10_000)).map((s) => s.unexpectedCloses);
  await pool.all('close', { group: 'main' }, 30_000);
  await pool.all('close', { group: 'more' }, 30_000);

  const s = all ? (res.storm = await scenario.storm(ctx, { count: cfg.stormClients, room: `${ROOM}-storm`, addrOctet: octet(2) })) : undefined;
  if (s) {
    log(`  storm: ${s.dropped}/${s.clients} dropped by restart('${s.role}'), ${s.allBack ? `all back in ${s.secondsToAllBack} s (restart ${s.restartMs} ms, then ${s.secondsFromReady} s)` : `${s.stillDown} still down`}, ${s.failedAttempts} failed of ${s.attempts} attempts, ${s.redisCommands?.perClient ?? 'n/a'} Redis commands per client`);
    await pool.all('close', { group: 'storm' }, 30_000);
  }

  if (delivery && s) {
    res.recoveryStorm = await scenario.recoveryStorm(ctx, { count: cfg.stormClients, room: `${ROOM}-rstorm`, addrOctet: octet(3), missed: cfg.recoveryMissed });
    const q = res.recoveryStorm;
    res.recoveryStorm.ratioToStorm = Number.isFinite(q.secondsFromReady) && s.secondsFromReady > 0 ? Number((q.secondsFromReady / s.secondsFromReady).toFixed(2)) : null;
    log(
      `  recovery storm: ${q.dropped}/${q.clients} dropped, each missing ${q.missed}; ${q.allRecovered ? `all recovered ${q.secondsFromReady} s after the balancer was ready again (${q.ratioToStorm}× the plain storm)` : `${q.recovered} recovered, ${q.stillDown} still down`}; ` +
        `${q.replayedPerClient} replayed per client, ${q.told} told recovered:false, ${q.dups} duplicates, ${q.gaps} gaps; ${q.redisCommands?.perClient ?? 'n/a'} Redis commands per client ${JSON.stringify(q.redisCommands?.byCommand ?? {})}`,
    );
    await pool.all('close', { group: 'rstorm' }, 30_000);
  }

  return finish();
}

/** V8 heapUsed of every server process at its last forced GC (bench/gc-hook.cjs), keyed by pid. */
function heapUsed(ctx, field = 'heapUsed') {
  return Object.fromEntries(ctx.handle.processes.map((p) => [p.pid, lastGcReport.get(p.pid)?.[field] ?? NaN]));
}

/** The Redis topology comparison, with a load-generator pool of its own (gateway clients). */
async function runTopology(addrOctet) {
  const systemPath = resolve(args['system-dir'], 'gateway.mjs');
  const pool = await createPool({ size: workers, systemPath, jwtSecret: JWT_SECRET });
  cleanups.push(() => pool.stop());
  const out = await compareTopologies({ pool, systemPath, cfg, jwtSecret: JWT_SECRET, addrOctet, cleanups, log });
  await pool.stop();
  cleanups.pop();
  return out;
}

/** Request/response straight to the monolith (gateway only), pricing the balancer hop. */
async function direct(ctx, system, systemPath, handle, addrOctet) {
  const d = handle.direct ?? (handle.directUrl ? { url: handle.directUrl, client: system.client } : null);
  if (!d) return null;
  const mod = await import(pathToFileURL(systemPath).href);
  const clientPath = findExport(mod, d.client);
  if (!clientPath) {
    log('  direct: n/a (direct.client is not among the adapter module exports)');
    return null;
  }
  const count = Math.max(...ctx.cfg.concurrencies);
  const c = await scenario.connect(ctx, { group: 'direct', count, room: `${ROOM}-direct`, urls: [d.url], headers: d.headers, clientOptions: d.options, clientPath, addrOctet });
  log(`  direct to monolith (${d.url}): ${c.connected}/${count} sockets`);
  const out = await scenario.requestResponse(ctx, { group: 'direct', concurrencies: ctx.cfg.concurrencies });
  await ctx.pool.all('close', { group: 'direct' }, 30_000);
  return out;
}

/** Path of keys from a module namespace to `target` (depth ≤ 3), or null. */
function findExport(ns, target, depth = 0, path = []) {
  if (ns === target) return path;
  if (depth >= 3 || ns === null || typeof ns !== 'object') return null;
  for (const key of Object.keys(ns)) {
    const found = findExport(ns[key], target, depth + 1, [...path, key]);
    if (found) return found;
  }
  return null;
}

async function main() {
  for (const s of systems) if (!ALL.includes(s)) throw new Error(`unknown system ${s} (one of ${ALL.join(', ')})`);
  // Each worker process may hold at most 20,000 descriptors (a limit of this machine).
  const perWorker = Math.ceil(Math.max(...cfg.idle, cfg.stormClients, cfg.topology.fanout.subscribers) / workers);
  if (!(perWorker <= 18_000)) throw new Error(`--workers ${args.workers}: ${perWorker} sockets per worker exceeds 18,000`);
  const startedAt = new Date();
  const command = `npm run bench${args.quick ? ' -- --quick' : ''}${args.systems !== ALL.join(',') ? ` (systems ${args.systems})` : ''}${args['storm-clients'] ? ` (storm clients ${cfg.stormClients})` : ''}${args['scale-steps'] ? ` (scale steps ${args['scale-steps']})` : ''}${args['scale-system'] !== 'gateway' ? ` (scale system ${args['scale-system']})` : ''}${args['idle-only'] ? ` (idle only${args.idle ? ` ${args.idle}` : ''})` : ''}${args['reqresp-only'] ? ' (reqresp only)' : ''}`;
  log(`# bench (${mode}): ${systems.join(', ')}; ${workers} load-generator workers; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load ${loadavg()[0].toFixed(2)}`);
  const servers = systems.filter((s) => s !== TOPOLOGY && s !== SCALE);
  const redis = servers.length ? await startRedis() : null;
  // Source-address octets: 4 per system, then one per topology run.
  const addrBase = 10 + Math.floor(Math.random() * 200);
  const results = {
    command,
    mode,
    startedAt: startedAt.toISOString(),
    source: sourceState(),
    host: { cores: cpus().length, cpu: cpus()[0]?.model ?? null, node: process.version, loadavg: loadavg().map((x) => Number(x.toFixed(2))) },
    workers,
    config: cfg,
    systems: {},
  };
  for (const [i, name] of servers.entries()) results.systems[name] = await runSystem(name, i, redis, addrBase);
  if (systems.includes(TOPOLOGY)) results.redisTopology = await runTopology(addrBase + ALL_SYSTEMS.length * 4);
  if (systems.includes(SCALE)) {
    const curve = scaleCurve({ systemPath: resolve(args['system-dir'], `${args['scale-system']}.mjs`), cfg, jwtSecret: JWT_SECRET, addrOctet: addrBase + ALL_SYSTEMS.length * 4 + 2 * cfg.topology.rounds, cleanups, log });
    results.scaleCurve = await scenario.withTimeout(curve, cfg.scale.deadlineMs, 'scale curve');
  }
  await cleanupAll();
  clearTimeout(watchdog);
  results.finishedAt = new Date().toISOString();
  results.seconds = Math.round((Date.now() - startedAt.getTime()) / 1000);

  const dir = join(here, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  const json = JSON.stringify(results, null, 2) + '\n';
  writeFileSync(file, json);
  writeFileSync(join(dir, 'latest.json'), json);
  if (servers.length) log(`\n${formatReport(results)}`);
  if (results.redisTopology) log(`\n${formatTopology(results.redisTopology)}\n`);
  if (results.scaleCurve) log(`\n${formatScale(results.scaleCurve)}\n`);
  log(`results: ${file} (${results.seconds} s)`);
  if (ALL_SYSTEMS.every((s) => servers.includes(s))) {
    const chart = await import(pathToFileURL(join(root, 'figures', 'bench-chart.mjs')).href);
    chart.write(results);
    log(`chart: ${chart.OUTPUT} (data: ${chart.DATA})`);
  } else {
    log('chart: not redrawn (only some systems ran)');
  }
  // The scale chart is the mode's full curve only (figures/scale-chart.mjs <results> draws any).
  if (results.scaleCurve?.system === 'gateway' && mode === 'full' && !args['scale-steps']) {
    const chart = await import(pathToFileURL(join(root, 'figures', 'scale-chart.mjs')).href);
    chart.write(results);
    log(`scale chart: ${chart.OUTPUT} (data: ${chart.DATA})`);
  }
}

// Exit once done: a scenario's pending bound (a burst's timeout race) would hold the process up to a minute.
main().then(() => process.exit(0), fail);
