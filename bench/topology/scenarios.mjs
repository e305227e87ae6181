/**
 * The two scenarios of the Redis topology comparison (compare.mjs), on a started gateway whose
 * monolith runs on one Redis server or on a cluster:
 *
 * - publish rate: `lanes` publishers in a closed loop on the acknowledgement (each EVALs the
 *   monolith's publish script, waits for its reply, publishes the next), round robin over
 *   `streams` room streams with one subscriber each, for a fixed time;
 * - fan-out over many streams: the fan-out scenario's closed loop and burst (fanout-scenarios.mjs),
 *   each of its messages published once to every stream, so every subscriber gets every message.
 *
 * Redis CPU is every node's (from /proc), also per node; script time is Redis' own account
 * (INFO commandstats of EVAL/EVALSHA only: the commands a script calls are counted again under
 * their own names, and inside the script's time).
 */
import { Redis } from 'ioredis';
import { fanout, warmUp } from '../loadgen/fanout-scenarios.mjs';
import { Histogram } from '../loadgen/histogram.mjs';
import { cpuSummary, latency, round, sleep, withTimeout } from '../loadgen/measure.mjs';
import { CpuMeter } from '../loadgen/procstat.mjs';
import { parseCommandStats } from '../loadgen/redis-stats.mjs';

const SCRIPT_COMMANDS = ['eval', 'evalsha'];
/** Upper bound of publish-rate rounds (every stream once per round), for the delivery counters. */
const MAX_ROUNDS = 20_000;

/** INFO of every node of a topology: script calls and µs, used memory; also an `info()` for ctx.redis. */
export class NodeStats {
  /** @param {Array<{ port: number }>} nodes */
  constructor(nodes) {
    this.nodes = nodes;
    this.clients = nodes.map((n) => new Redis({ host: '127.0.0.1', port: n.port, connectionName: 'bench-topology-info' }));
  }

  /** Per node: `{ port, calls, usec, usedMemory }` (calls and usec of scripts since the start). */
  async read() {
    return Promise.all(
      this.clients.map(async (c, i) => {
        const [stats, memory] = await withTimeout(Promise.all([c.info('commandstats'), c.info('memory')]), 5000, 'INFO');
        const sum = (field) => {
          const o = parseCommandStats(stats, field);
          return SCRIPT_COMMANDS.reduce((s, k) => s + (o[k] ?? 0), 0);
        };
        return { port: this.nodes[i].port, calls: sum('calls'), usec: sum('usec'), usedMemory: Number(/used_memory:(\d+)/.exec(memory)?.[1]) };
      }),
    );
  }

  /** `INFO commandstats` text of the scripts summed over the nodes (what measure.mjs reads as ctx.redis). */
  async info() {
    const r = await this.read();
    const calls = r.reduce((s, n) => s + n.calls, 0);
    const usec = r.reduce((s, n) => s + n.usec, 0);
    return `cmdstat_evalsha:calls=${calls},usec=${usec}\n`;
  }

  close() {
    for (const c of this.clients) c.disconnect();
  }
}

/** The handle of a gateway whose `publish` goes to every one of `streams` rooms `<room>-<i>`. */
export function everyStream(handle, room, streams) {
  const names = Array.from({ length: streams }, (_, i) => `${room}-${i}`);
  return {
    get processes() {
      return handle.processes;
    },
    publish: (_room, payload) => Promise.all(names.map((r) => handle.publish(r, payload))),
  };
}

/** Sums `us` over the roles named `redis@<port>` (the nodes). */
const redisOf = (usByRole) => Object.entries(usByRole).reduce((s, [role, us]) => (role.startsWith('redis') ? s + us : s), 0);

/**
 * Publish rate over `streams` streams of group `group` (one member each, rooms `<room>-<i>`):
 * `lanes` closed-loop publishers for `durationMs`. Returns publications/s, CPU µs per
 * publication by role and per Redis node, script µs, delivery latency, Redis bytes per stream.
 */
export async function publishRate(ctx, { group, room, streams, lanes, durationMs, stats, nodes }) {
  const { pool, handle, system } = ctx;
  const mem0 = await stats.read();
  await warmUp({ ...ctx, handle: everyStream(handle, room, streams) }, { group, room });
  const seqTo = 1 + MAX_ROUNDS;
  const arm = await pool.all('fanout', { group, seqFrom: 1, seqTo, closedLoop: false }, 10_000);
  const subscribers = arm.reduce((s, r) => s + r.members, 0);
  const before = await stats.read();
  const m = new CpuMeter([
    ...handle.processes.map((p) => ({ label: `server:${p.role}`, pid: p.pid })),
    ...nodes.map((n) => ({ label: `server:redis@${n.port}`, pid: n.pid })),
    ...pool.pids().map((pid) => ({ label: 'generator', pid })),
  ]).start();
  const deadline = Date.now() + durationMs;
  let next = 0;
  let published = 0;
  const lane = async () => {
    while (Date.now() < deadline) {
      const k = next++;
      const seq = 1 + Math.floor(k / streams);
      if (seq >= seqTo) break;
      await handle.publish(`${room}-${k % streams}`, system.payload(seq, process.hrtime.bigint()));
      published++;
    }
  };
  await withTimeout(Promise.all(Array.from({ length: lanes }, lane)), durationMs + 15_000, 'publish lanes');
  const reading = m.stop();
  const after = await stats.read();
  // Deliveries still on their way when the publishers stopped (a backlog shows in the p99).
  await sleep(1000);
  const reports = await pool.all('fanoutReport', {}, 10_000);
  const hist = new Histogram();
  let delivered = 0;
  for (const r of reports) {
    hist.add(r.hist);
    delivered += r.delivered;
  }
  const cpu = cpuSummary(reading);
  const per = (us) => round(us / published, 2);
  const seconds = reading.wallUs / 1e6;
  const scriptUs = after.reduce((s, n, i) => s + n.usec - before[i].usec, 0);
  return {
    streams,
    lanes,
    subscribers,
    published,
    seconds: round(seconds, 2),
    perSec: Math.round(published / seconds),
    delivered,
    expected: Math.round((published * subscribers) / streams),
    ...latency(hist),
    usPerPublication: {
      redis: per(redisOf(cpu.serverUsByRole)),
      redisScript: per(scriptUs),
      monolith: per(cpu.serverUsByRole.monolith ?? 0),
      balancer: per(cpu.serverUsByRole.balancer ?? 0),
      publisher: per(reading.selfUs),
      loadgen: per(reading.byLabel.generator ?? 0),
    },
    // Each publication runs on the one node that serves its stream's slot.
    nodes: after.map((n, i) => {
      const calls = n.calls - before[i].calls;
      const us = cpu.serverUsByRole[`redis@${n.port}`] ?? 0;
      return { port: n.port, publications: calls, cores: round(us / reading.wallUs, 3), cpuUsPerPublication: round(us / calls, 2), scriptUsPerPublication: round((n.usec - before[i].usec) / calls, 2) };
    }),
    // Redis memory the streams grew by: metadata and history (HISTORY_ROOM_SIZE entries at most).
    redisBytesPerStream: Math.round(after.reduce((s, n, i) => s + n.usedMemory - mem0[i].usedMemory, 0) / streams),
    historyEntriesPerStream: Math.min(handle.history().size, Math.floor(published / streams) + 1),
    serverCoresByRole: cpu.serverCoresByRole,
    redisCores: round(redisOf(cpu.serverUsByRole) / reading.wallUs, 3),
    serverCores: cpu.serverCores,
    genCores: cpu.genCores,
    otherCores: cpu.otherCores,
    stealCores: cpu.stealCores,
  };
}

/**
 * Fan-out to group `group`, spread over `streams` rooms `<room>-<i>`: the fan-out scenario's
 * closed loop and burst with each message published to every stream; adds per-publication and
 * per-delivery µs by role (a "message" of fanout() is `streams` publications here).
 */
export async function fanoutMany(ctx, { group, room, streams }) {
  const res = await fanout({ ...ctx, handle: everyStream(ctx.handle, room, streams) }, { group, room });
  const out = { streams, subscribers: res.subscribers, perStream: round(res.subscribers / streams, 1) };
  for (const mode of ['closed', 'burst']) {
    const f = res[mode];
    const publications = f.published * streams;
    const role = (r) => f.serverUsByRole[r] ?? 0;
    out[mode] = {
      publications,
      delivered: f.delivered,
      expected: f.expected,
      stalled: f.stalled,
      seconds: f.seconds,
      deliveriesPerSec: f.perSec,
      publicationsPerSec: Math.round(f.publishPerSec * streams),
      p50Ms: f.p50Ms,
      p99Ms: f.p99Ms,
      cpuUsPerDelivery: f.cpuUsPerDelivery,
      usPerDelivery: { redis: round(role('redis') / f.delivered, 3), monolith: round(role('monolith') / f.delivered, 3), balancer: round(role('balancer') / f.delivered, 3) },
      usPerPublication: { redis: round(role('redis') / publications, 2), redisScript: round(f.redisCommandUsPerPublication / streams, 2), monolith: round(role('monolith') / publications, 2), balancer: round(role('balancer') / publications, 2) },
      serverCoresByRole: f.serverCoresByRole,
      serverCores: f.serverCores,
      genCores: f.genCores,
      otherCores: f.otherCores,
      stealCores: f.stealCores,
    };
  }
  return out;
}
