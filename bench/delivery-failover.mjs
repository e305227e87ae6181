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
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { createPool, share, shareStart } from './loadgen/pool.mjs';
import { commandDelta, parseCommandStats } from './loadgen/redis-stats.mjs';
import { killAll, pollReady, rootDir, sourceState, startRedisServer, startServer } from './systems/processes.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const MONOLITH = join(rootDir, 'monolith', 'dist', 'main.js');
const BALANCER = join(rootDir, 'balancer', 'dist', 'main.js');
const JWT_SECRET = `failover-jwt-${randomBytes(12).toString('hex')}`;
const LINK_SECRET = `failover-link-${randomBytes(12).toString('hex')}`;
const HOST = '127.0.0.1';

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
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (const [name, v] of Object.entries({ spectators: N, guilds: G, rate: RATE, workers: WORKERS })) {
  if (!(Number.isInteger(v) && v > 0)) throw new Error(`--${name} must be a positive integer`);
}
// Each load-generator process may hold at most 20,000 descriptors (a limit of this machine).
if (Math.ceil(N / WORKERS) > 18_000) throw new Error(`${Math.ceil(N / WORKERS)} sockets per worker exceeds 18,000: raise --workers`);
for (const script of [MONOLITH, BALANCER]) if (!existsSync(script)) throw new Error(`${script} is missing: build with node scripts/run.mjs build`);

// ---- processes: everything started is stopped on the way out, by pid ----

const servers = [];
let redis;
let pool;
let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    await pool?.stop().catch(() => {});
    await killAll(servers);
    await redis?.stop();
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

/** Output lines of each server (warnings and errors), kept for the report: bounded per process. */
const output = new Map();
function collect(label) {
  const lines = [];
  output.set(label, lines);
  return (line) => {
    if (lines.length < 5000 && !line.startsWith('{"gc"')) lines.push(line);
  };
}

async function startStack() {
  redis = await startRedisServer({ maxclients: 20_000 });
  const common = { JWT_SECRET, LINK_SECRET, LOG_LEVEL: 'warn', HOST };
  const monoliths = [];
  for (let i = 1; i <= 3; i++) {
    const id = `fo-m${i}`;
    const m = await startServer({
      role: `monolith ${id}`,
      script: MONOLITH,
      readyName: 'monolith',
      env: { ...common, HTTP_PORT: '0', LINK_PORT: '0', MONOLITH_ID: id, REDIS_URL: redis.url },
      onLine: collect(`monolith ${id}`),
    });
    servers.push(m);
    monoliths.push({ id, server: m, http: `http://${HOST}:${m.info.httpPort}`, link: `${HOST}:${m.info.linkPort}` });
  }
  const balancers = [];
  for (let i = 1; i <= 2; i++) {
    const id = `fo-b${i}`;
    const b = await startServer({
      role: `balancer ${id}`,
      script: BALANCER,
      readyName: 'balancer',
      env: {
        ...common,
        BALANCER_HOST: HOST,
        BALANCER_PORT: '0',
        ADMIN_PORT: '0',
        BALANCER_ID: id,
        MONOLITHS: monoliths.map((m) => m.link).join(','),
        MAX_CONNECTIONS: String(N + 1000),
        MAX_UNAUTHENTICATED: String(N + 1000),
      },
      onLine: collect(`balancer ${id}`),
    });
    servers.push(b);
    balancers.push({ id, server: b, url: `ws://${HOST}:${b.info.port}/ws` });
  }
  await Promise.all([
    ...balancers.map((b) => pollReady(HOST, b.server.info.port, '/ready', 20_000, (body) => body?.monoliths >= 3)),
    ...monoliths.map((m) => pollReady(HOST, m.server.info.httpPort, '/ready', 20_000, (body) => body?.ready === true && body.links >= 2)),
  ]);
  return { monoliths, balancers };
}

// ---- the publisher: numbered log entries, each retried with its key until a 2xx ----

class Publisher {
  constructor(monoliths, guilds, token) {
    this.targets = monoliths.map((m) => m.http);
    this.guilds = guilds;
    this.token = token;
    this.tag = randomBytes(4).toString('hex');
    this.acks = [];
    this.answers = {};
    this.gaveUp = [];
    this.inflight = new Set();
    this.sent = 0;
    this.stopped = false;
  }

  /** Publishes RATE entries per second until stop(); at most 500 in flight. */
  start() {
    const gapMs = 1000 / RATE;
    const t0 = nowMs();
    this.loop = (async () => {
      while (!this.stopped) {
        const due = t0 + this.sent * gapMs;
        const wait = due - nowMs();
        if (wait > 1) await sleep(wait);
        if (this.stopped) break;
        if (this.inflight.size >= 500) {
          await sleep(10);
          continue;
        }
        const p = this.publish(this.sent++);
        this.inflight.add(p);
        p.finally(() => this.inflight.delete(p));
      }
    })();
  }

  async stop(timeoutMs) {
    this.stopped = true;
    await this.loop;
    const all = Promise.allSettled([...this.inflight]);
    await Promise.race([all, sleep(timeoutMs)]);
    return this.inflight.size;
  }

  async publish(n) {
    const guild = this.guilds[n % this.guilds.length];
    const id = String(1_000_000_000_000 + n);
    const body = JSON.stringify({ id, guild_id: guild, action_number: 1, agent_id: '42', subject_id: null, private: false, reversible: false, timestamp: Date.now(), data: { n } });
    const key = `fo-${this.tag}-${n}`;
    for (let attempt = 0; attempt < 200; attempt++) {
      const target = this.targets[(n + attempt) % this.targets.length];
      let status = 0;
      let answer;
      try {
        const res = await fetch(`${target}/api/guilds/${guild}/logs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json', 'idempotency-key': key },
          body,
          signal: AbortSignal.timeout(5000),
        });
        status = res.status;
        answer = await res.json().catch(() => undefined);
      } catch (err) {
        status = err?.cause?.code ?? err?.name ?? 'error';
      }
      this.answers[status] = (this.answers[status] ?? 0) + 1;
      if (typeof status === 'number' && status >= 200 && status < 300) {
        this.acks.push({ n, guild, offset: Number(answer?.offset), epoch: String(answer?.epoch), duplicate: answer?.duplicate === true, ackMs: nowMs(), attempts: attempt + 1 });
        return;
      }
      await sleep(50);
    }
    this.gaveUp.push(n);
  }

  /** The latest acknowledged position of each guild's log stream. */
  tops() {
    const out = {};
    for (const a of this.acks) {
      const s = `guild:${a.guild}:logs`;
      if (!out[s] || a.offset > out[s].offset) out[s] = { offset: a.offset, epoch: a.epoch };
    }
    return out;
  }

  /** Per guild: the acknowledged offsets (ascending) with the time of each 2xx, and problems of the acks themselves. */
  byGuild() {
    const out = {};
    const problems = [];
    for (const a of [...this.acks].sort((x, y) => x.offset - y.offset)) {
      const g = (out[a.guild] ??= { epoch: a.epoch, offsets: [], ackMs: [] });
      if (a.epoch !== g.epoch) problems.push(`guild ${a.guild}: #${a.n} acknowledged under epoch ${a.epoch}, others ${g.epoch}`);
      if (!Number.isSafeInteger(a.offset) || a.offset < 1) problems.push(`#${a.n} acknowledged without an offset`);
      if (g.offsets.at(-1) === a.offset) problems.push(`guild ${a.guild}: offset ${a.offset} acknowledged twice (#${a.n})`);
      g.offsets.push(a.offset);
      g.ackMs.push(a.ackMs);
    }
    return { acks: out, problems };
  }
}

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

/** Warning and error lines of each server, grouped by message (counts), for the report. */
function serverMessages() {
  const out = {};
  for (const [label, lines] of output) {
    const msgs = {};
    for (const line of lines) {
      let key = line.slice(0, 160);
      try {
        const j = JSON.parse(line);
        if (j.ready) continue;
        key = `${j.level}: ${j.msg}${j.reason ? ` (${j.reason})` : ''}${j.err ? ` (${String(j.err).slice(0, 80)})` : ''}`;
      } catch {}
      msgs[key] = (msgs[key] ?? 0) + 1;
    }
    if (Object.keys(msgs).length) out[label] = msgs;
  }
  return out;
}

async function main() {
  const command = `node bench/delivery-failover.mjs ${process.argv.slice(2).join(' ')}`.trim();
  const startedAt = new Date();
  const loadAtStart = loadavg().map((x) => Number(x.toFixed(2)));
  log(`# delivery failover (kill -9): ${N} spectators of ${G} guilds, ${RATE} publications/s, ${WORKERS} load-generator processes; ${cpus().length} cores, load ${loadavg()[0].toFixed(2)}`);
  const { monoliths, balancers } = await startStack();
  log(`  started: redis ${redis.pid}, ${servers.map((s) => `${s.role} ${s.pid}`).join(', ')}`);

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

  const service = await new SignJWT({ admin: true }).setProtectedHeader({ alg: 'HS256' }).setSubject('failover-publisher').setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(JWT_SECRET));
  const publisher = new Publisher(monoliths, guilds, service);
  publisher.start();
  await sleep(BEFORE_MS);
  const warm = await waitHolding(publisher.tops(), 20_000, 'before the kill');
  log(`  before the kill: ${publisher.acks.length} acknowledged, ${warm.holding}/${warm.clients} clients up to date`);

  const [victimId, victimCount] = Object.entries(byMonolith).sort((a, b) => b[1] - a[1])[0];
  const victim = monoliths.find((m) => m.id === victimId);
  const ackedBeforeKill = publisher.acks.length;
  const info = new Redis(redis.url, { connectionName: 'failover-info' });
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
    serverMessages: serverMessages(),
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
