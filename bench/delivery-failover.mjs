#!/usr/bin/env node
/**
 * The kill -9 delivery run (issue 10, "Done means"): Redis, 3 monoliths and 2 balancers from the
 * built dist/ on 127.0.0.1; N log spectators (default 10,000, in several load-generator
 * processes, spectator-worker.mjs) spread over both balancers, each in its own room and
 * spectating one of G guilds with logs; a steady numbered publisher posts log entries over HTTP
 * (Idempotency-Key, retried on another monolith until a 2xx, every 2xx's offset recorded); the
 * monolith serving the most spectators is killed with SIGKILL mid-stream; the clients recover as
 * the protocol says (resync: recover + re-spectate with since; closed: reconnect with since);
 * publishing goes on, stops, and every client's log stream is compared with the
 * acknowledgements: lost (acknowledged, after its start, never received, not covered by a
 * `recovered: false`), duplicated, told `recovered: false`, and the time from the kill until
 * every client held everything acknowledged before its recovery reply.
 *
 *   node scripts/run.mjs build
 *   node bench/delivery-failover.mjs [--spectators 10000] [--guilds 20] [--rate 100] [--before-s 5] [--after-s 10] [--workers 3]
 *
 * Bounded: every wait has a timeout and the whole run a deadline; it stops by itself and ends
 * only the processes it started, by pid. Exit status 0 when nothing was lost or duplicated,
 * 1 otherwise (or on a failure). Results: bench/results/delivery-failover-<timestamp>.json.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { mintToken } from '@gateway/server-kit';
import { Publisher } from './delivery/publisher.mjs';
import { Stack, requireBuilt } from './delivery/stack.mjs';
import { nowMs } from './loadgen/clock.mjs';
import { createPool, share, shareStart } from './loadgen/pool.mjs';
import { commandDelta, parseCommandStats } from './loadgen/redis-stats.mjs';
import { sourceState } from './systems/processes.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const JWT_SECRET = `failover-jwt-${randomBytes(12).toString('hex')}`;
const LINK_SECRET = `failover-link-${randomBytes(12).toString('hex')}`;

const { values: args } = parseArgs({
  options: {
    spectators: { type: 'string', default: '10000' },
    guilds: { type: 'string', default: '20' },
    rate: { type: 'string', default: '100' }, // publications per second, all guilds together
    'before-s': { type: 'string', default: '5' },
    'after-s': { type: 'string', default: '10' },
    workers: { type: 'string', default: '' },
    inflight: { type: 'string', default: '32' }, // connects in flight per worker
  },
});
const N = Number(args.spectators);
const G = Number(args.guilds);
const RATE = Number(args.rate);
const BEFORE_MS = Number(args['before-s']) * 1000;
const AFTER_MS = Number(args['after-s']) * 1000;
const WORKERS = Number(args.workers || Math.max(2, Math.ceil(N / 4000)));
const DEADLINE_MS = 10 * 60_000;
const log = (text) => process.stdout.write(`${text}\n`);

for (const [name, v] of Object.entries({ spectators: N, guilds: G, rate: RATE, workers: WORKERS })) {
  if (!(Number.isInteger(v) && v > 0)) throw new Error(`--${name} must be a positive integer`);
}
// Each load-generator process may hold at most 20,000 descriptors (a limit of this machine).
if (Math.ceil(N / WORKERS) > 18_000) throw new Error(`${Math.ceil(N / WORKERS)} sockets per worker exceeds 18,000: raise --workers`);
requireBuilt();

// ---- processes: everything started is stopped on the way out, by pid ----

const stack = new Stack({ jwtSecret: JWT_SECRET, linkSecret: LINK_SECRET, clients: N });
let pool;
let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    await pool?.stop().catch(() => {});
    await stack.stop();
  })();
  return cleaning;
}
async function fail(err) {
  process.stderr.write(`delivery-failover: ${err?.stack ?? err}\n`);
  await Promise.race([cleanup(), sleep(15_000)]);
  process.exit(1);
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => fail(new Error(`${sig} received`)));
const watchdog = setTimeout(() => fail(new Error(`run exceeded ${DEADLINE_MS / 60_000} minutes`)), DEADLINE_MS);

// ---- helpers over the worker pool ----

const merge = (objs) => objs.reduce((m, o) => {
  for (const [k, v] of Object.entries(o)) m[k] = (m[k] ?? 0) + v;
  return m;
}, {});

async function status(tops) {
  const all = await pool.all('status', { tops }, 20_000);
  return {
    clients: all.reduce((s, r) => s + r.clients, 0),
    holding: all.reduce((s, r) => s + r.holding, 0),
    busy: all.reduce((s, r) => s + r.busy, 0),
    resyncs: all.reduce((s, r) => s + r.resyncs, 0),
    resynced: all.reduce((s, r) => s + r.resynced, 0),
    reconnects: all.reduce((s, r) => s + r.reconnects, 0),
    errors: all.reduce((s, r) => s + r.errors, 0),
    errorSamples: all.flatMap((r) => r.errorSamples).slice(0, 5),
    lagging: all.flatMap((r) => r.lagging).slice(0, 5),
    byMonolith: merge(all.map((r) => r.byMonolith)),
    closes: merge(all.map((r) => r.closes)),
  };
}

/** Polls until every client holds `tops` (and none is mid-recovery), or `timeoutMs` passes. */
async function waitHolding(tops, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let st;
  for (;;) {
    st = await status(tops);
    if (st.holding === st.clients && st.busy === 0) return st;
    if (Date.now() > deadline) {
      log(`  ${what}: ${st.holding}/${st.clients} clients hold the latest acknowledged positions after ${timeoutMs / 1000} s (${st.busy} mid-recovery); e.g. ${JSON.stringify(st.lagging).slice(0, 600)}`);
      return st;
    }
    await sleep(250);
  }
}

function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

async function main() {
  const command = `node bench/delivery-failover.mjs ${process.argv.slice(2).join(' ')}`.trim();
  const startedAt = new Date();
  const loadAtStart = loadavg().map((x) => Number(x.toFixed(2)));
  log(`# delivery failover (kill -9): ${N} spectators of ${G} guilds, ${RATE} publications/s, ${WORKERS} load-generator processes; ${cpus().length} cores, load ${loadavg()[0].toFixed(2)}`);
  const { monoliths, balancers } = await stack.start();
  log(`  started: redis ${stack.redis.pid}, ${stack.servers.map((s) => `${s.role} ${s.pid}`).join(', ')}`);

  const runTag = randomBytes(3).toString('hex');
  const guilds = Array.from({ length: G }, (_, i) => `9${String(Date.now()).slice(-8)}${String(i).padStart(4, '0')}`);
  pool = await createPool({ size: WORKERS, jwtSecret: JWT_SECRET, worker: join(here, 'delivery', 'spectator-worker.mjs'), init: {} });
  const addrOctet = 10 + Math.floor(Math.random() * 200);
  await pool.all('prepare', (i) => ({ startIndex: shareStart(N, WORKERS, i), count: share(N, WORKERS, i), urls: balancers.map((b) => b.url), guilds, addrOctet, tag: runTag }), 120_000);
  const c0 = nowMs();
  const conn = await pool.all('connect', { inflight: Number(args.inflight) }, 300_000);
  const connected = conn.reduce((s, r) => s + r.connected, 0);
  const byMonolith = merge(conn.map((r) => r.byMonolith));
  log(`  ${connected}/${N} spectating in ${((nowMs() - c0) / 1000).toFixed(1)} s; by monolith ${JSON.stringify(byMonolith)}${connected < N ? `; failures ${JSON.stringify(merge(conn.map((r) => r.failures)))}` : ''}`);
  if (connected < N) throw new Error(`only ${connected} of ${N} spectators connected`);

  const service = await mintToken({ sub: 'failover-publisher', admin: true }, { secret: JWT_SECRET, ttlSeconds: 3600 });
  const publisher = new Publisher(monoliths, guilds, service, RATE);
  publisher.start();
  await sleep(BEFORE_MS);
  const warm = await waitHolding(publisher.tops(), 20_000, 'before the kill');
  log(`  before the kill: ${publisher.acks.length} acknowledged, ${warm.holding}/${warm.clients} clients up to date`);

  const [victimId, victimCount] = Object.entries(byMonolith).sort((a, b) => b[1] - a[1])[0];
  const victim = monoliths.find((m) => m.id === victimId);
  const ackedBeforeKill = publisher.acks.length;
  const info = new Redis(stack.redis.url, { connectionName: 'failover-info' });
  const commands0 = parseCommandStats(await info.info('commandstats'));
  const acks0 = publisher.acks.length;
  const faultMs = nowMs();
  await victim.server.kill();
  log(`  kill -9 ${victim.id} (pid ${victim.server.pid}), serving ${victimCount} spectators, ${ackedBeforeKill} publications acknowledged so far`);

  await sleep(AFTER_MS);
  const left = await publisher.stop(30_000);
  const publishedMs = nowMs();
  log(`  publishing stopped: ${publisher.acks.length} acknowledged (${publisher.gaveUp.length} given up, ${left} still in flight), answers ${JSON.stringify(publisher.answers)}`);

  const tops = publisher.tops();
  const settled = await waitHolding(tops, 60_000, 'after publishing');
  const commands = commandDelta(commands0, parseCommandStats(await info.info('commandstats')));
  info.disconnect();
  log(`  settled ${((nowMs() - publishedMs) / 1000).toFixed(1)} s after the last publication: ${settled.holding}/${settled.clients} up to date; resyncs ${settled.resyncs} (handled ${settled.resynced}), reconnects ${settled.reconnects}, closes ${JSON.stringify(settled.closes)}, client errors ${settled.errors}${settled.errors ? ` e.g. ${JSON.stringify(settled.errorSamples)}` : ''}`);

  const { acks, problems: ackProblems } = publisher.byGuild();
  const reports = (await pool.all('report', { acks, faultMs }, 120_000)).flatMap((r) => r.clients);
  await pool.all('close', {}, 30_000);

  // ---- the figures ----
  const affected = reports.filter((c) => c.recoveries.length > 0);
  const recoveredTimes = affected.map((c) => c.recoveredAfterFaultMs).filter((t) => t !== null && t !== undefined).sort((a, b) => a - b);
  const neverRecovered = affected.filter((c) => c.recoveredAfterFaultMs === null);
  const lossy = reports.filter((c) => c.lost > 0);
  const duplicated = reports.filter((c) => c.dups > 0);
  const told = reports.filter((c) => c.told > 0 || c.toldSession > 0);
  const result = {
    command,
    startedAt: startedAt.toISOString(),
    source: sourceState(),
    host: { cores: cpus().length, cpu: cpus()[0]?.model ?? null, node: process.version, loadavgAtStart: loadAtStart, loadavgAtEnd: loadavg().map((x) => Number(x.toFixed(2))) },
    config: { spectators: N, guilds: G, rate: RATE, beforeMs: BEFORE_MS, afterMs: AFTER_MS, workers: WORKERS },
    victim: { id: victim.id, pid: victim.server.pid, spectators: victimCount },
    byMonolith,
    publications: { acknowledged: publisher.acks.length, beforeKill: ackedBeforeKill, gaveUp: publisher.gaveUp.length, stillInFlight: left, duplicateAcks: publisher.acks.filter((a) => a.duplicate).length, answers: publisher.answers, problems: ackProblems },
    clients: {
      total: reports.length,
      affected: affected.length,
      byRecovery: merge(affected.map((c) => ({ [c.recoveries.join('+')]: 1 }))),
      upToDateAtEnd: settled.holding,
      lost: { deliveries: lossy.reduce((s, c) => s + c.lost, 0), clients: lossy.length, samples: lossy.slice(0, 10) },
      duplicated: { deliveries: duplicated.reduce((s, c) => s + c.dups, 0), clients: duplicated.length, samples: duplicated.slice(0, 10) },
      toldRecoveredFalse: { clients: told.length, offsetsCovered: told.reduce((s, c) => s + c.told, 0), samples: told.slice(0, 5) },
      receivedUnacknowledged: reports.reduce((s, c) => s + c.unacked, 0),
      epochChanges: reports.reduce((s, c) => s + c.epochChanges, 0),
      earlyPushes: reports.reduce((s, c) => s + c.early, 0),
      errors: { clients: reports.filter((c) => c.errors.length).length, samples: reports.filter((c) => c.errors.length).slice(0, 5) },
      closes: settled.closes,
    },
    recovery: {
      allRecovered: neverRecovered.length === 0 && affected.length > 0,
      neverRecovered: { clients: neverRecovered.length, samples: neverRecovered.slice(0, 5) },
      msFromKillToAllRecovered: recoveredTimes.at(-1) ?? null,
      p50Ms: quantile(recoveredTimes, 0.5),
      p99Ms: quantile(recoveredTimes, 0.99),
      // Per protocol step, ms from the kill to it (affected clients): p50 / p99 / max.
      steps: Object.fromEntries(
        ['welcome', 'resync', 'recover', 'spectate', 'close'].map((k) => {
          const v = affected.map((c) => c.steps?.[k]).filter((t) => t !== undefined).sort((a, b) => a - b);
          return [k, { clients: v.length, p50: quantile(v, 0.5), p99: quantile(v, 0.99), max: v.at(-1) ?? null }];
        }),
      ),
    },
    // Redis commands from the kill until settled: the recoveries' and the publications' meanwhile
    // (each publication is one EVALSHA of the publish script plus the commands it runs).
    redis: { publicationsMeanwhile: publisher.acks.length - acks0, ...commands },
    serverMessages: stack.serverMessages(),
  };
  result.seconds = Math.round((Date.now() - startedAt.getTime()) / 1000);

  const dir = join(here, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `delivery-failover-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');

  const r = result;
  log('');
  log(`## ${command}`);
  log(`- acknowledged publications: ${r.publications.acknowledged} (${r.publications.beforeKill} before the kill; ${r.publications.gaveUp} given up; answers ${JSON.stringify(r.publications.answers)})${ackProblems.length ? `; ack problems: ${ackProblems.slice(0, 5).join('; ')}` : ''}`);
  log(`- spectators: ${r.clients.total}; on the killed monolith ${r.victim.id}: ${r.victim.spectators}; recovered after the kill: ${r.clients.affected} (${JSON.stringify(r.clients.byRecovery)})`);
  log(`- lost: ${r.clients.lost.deliveries} deliveries at ${r.clients.lost.clients} clients${lossy.length ? ` e.g. ${lossy.slice(0, 3).map((c) => `c${c.i} (guild ${c.guild}, ${c.monolith0}→${c.monolith}) offsets ${c.lostRanges}`).join('; ')}` : ''}`);
  log(`- duplicated: ${r.clients.duplicated.deliveries} deliveries at ${r.clients.duplicated.clients} clients`);
  log(`- told recovered:false: ${r.clients.toldRecoveredFalse.clients} clients`);
  log(`- time from the kill until every client had recovered: ${r.recovery.allRecovered ? `${(r.recovery.msFromKillToAllRecovered / 1000).toFixed(2)} s (per client p50 ${(r.recovery.p50Ms / 1000).toFixed(2)} s, p99 ${(r.recovery.p99Ms / 1000).toFixed(2)} s)` : `not all recovered (${r.recovery.neverRecovered.clients} never held what was owed)`}`);
  log(`- steps after the kill (ms; p50 / p99 / max over the recovered clients): ${Object.entries(r.recovery.steps).filter(([, v]) => v.clients).map(([k, v]) => `${k} ${v.p50} / ${v.p99} / ${v.max} (${v.clients})`).join('; ')}`);
  log(`- received but never acknowledged: ${r.clients.receivedUnacknowledged}; epoch changes: ${r.clients.epochChanges}; client errors at ${r.clients.errors.clients} clients`);
  log(`- Redis commands from the kill until settled: ${commands.total} for ${r.clients.affected} recovering clients and ${r.redis.publicationsMeanwhile} publications: ${JSON.stringify(commands.byCommand)}`);
  log(`- server warnings: ${JSON.stringify(r.serverMessages).slice(0, 1500)}`);
  log(`results: ${file} (${r.seconds} s)`);
  await cleanup();
  clearTimeout(watchdog);
  const clean = r.clients.lost.deliveries === 0 && r.clients.duplicated.deliveries === 0 && r.recovery.allRecovered && ackProblems.length === 0;
  process.exit(clean ? 0 : 1);
}

main().catch(fail);
