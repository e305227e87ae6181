/**
 * The scale curve (`npm run bench -- --systems scale-curve`, part of the default run): the
 * gateway with one monolith and as many balancer processes as the largest step needs, all on
 * one client port (BALANCER_REUSE_PORT: the kernel spreads the connections), driven from as many
 * load-generator processes: a process here may hold 20,000 descriptors, so each balancer and
 * each worker holds at most PER_PROCESS sockets. The connections are opened stepwise (`steps`,
 * e.g. 5k, 20k, 50k, 100k, all in one room, every client from its own 127.x.y.z address so no
 * source address runs short of ephemeral ports); at each step:
 *
 *   - memory: RSS after a forced GC of every server process, growth since before the first
 *     connection ÷ connections (per role, balancers summed), and the slope since the previous step;
 *   - fan-out to everyone: publications to the room reach every connection (the bench's fan-out
 *     machinery, fanout-scenarios.mjs), a closed loop (one broadcast at a time: how long until
 *     every connection holds it) then bursts; CPU of every server process (and Redis) ÷ deliveries.
 *     Each step publishes about the same number of deliveries, so /proc's 10 ms ticks weigh alike:
 *     the closed loop in more broadcasts at fewer connections, the burst in more rounds of the
 *     same BURST broadcasts (a socket sent more messages at once writes more of them per syscall,
 *     so the burst size stays the same at every step).
 *
 * The system is the gateway, or `uws-raw` (raw uWebSockets.js processes on one port, the
 * ceiling) to tell what the machine does at these counts from what the gateway adds.
 *
 * Everything listens on 127.0.0.1; every wait is bounded; whatever was started is pushed on
 * `cleanups` and stopped by pid.
 */
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { createPool } from '../loadgen/pool.mjs';
import { fanoutRun, warmUp } from '../loadgen/fanout-scenarios.mjs';
import { median, round, sleep } from '../loadgen/measure.mjs';
import { bytesPerConn, connect, rssAfterGc, withTimeout } from '../loadgen/scenarios.mjs';
import { startRedisServer } from '../systems/processes.mjs';
import { flatness } from './report.mjs';

/** Sockets one balancer or one load-generator process holds at most (below 20,000 descriptors, with room for uneven spreading). */
export const PER_PROCESS = 18_000;
const ROOM = 'bench-scale';

/** Messages of a fan-out run at `conns` connections: about `deliveries` deliveries, within [min, max]. */
export function messagesFor(conns, deliveries, min, max) {
  return Math.max(min, Math.min(max, Math.round(deliveries / conns)));
}

/** Processes of one kind for `conns` connections. */
export const processesFor = (conns) => Math.max(1, Math.ceil(conns / PER_PROCESS));

/** Broadcasts of one burst round, at every step. */
export const BURST = 20;

/** Burst rounds at `conns` connections: about `deliveries` deliveries of BURST broadcasts each, at least one. */
export const burstRounds = (conns, deliveries, max) => Math.max(1, Math.min(max, Math.round(deliveries / (conns * BURST))));

/** Several fan-out runs as one: sums of counts and CPU, medians of the latencies, the worst maximum. */
export function combineRuns(runs) {
  const sum = (get) => runs.reduce((a, r) => a + get(r), 0);
  const delivered = sum((r) => r.delivered);
  const seconds = sum((r) => r.seconds);
  const serverUs = sum((r) => r.serverUs);
  const serverUsByRole = {};
  for (const r of runs) for (const [role, us] of Object.entries(r.serverUsByRole)) serverUsByRole[role] = (serverUsByRole[role] ?? 0) + us;
  const mean = (get) => round(sum(get) / runs.length, 3);
  return {
    subscribers: runs[0].subscribers,
    published: sum((r) => r.published),
    expected: sum((r) => r.expected),
    delivered,
    stalled: runs.some((r) => r.stalled),
    seconds: round(seconds, 3),
    perSec: Math.round(delivered / seconds),
    p50Ms: round(median(runs.map((r) => r.p50Ms)), 3),
    p99Ms: round(median(runs.map((r) => r.p99Ms)), 3),
    maxMs: Math.max(...runs.map((r) => r.maxMs)),
    cpuUsPerDelivery: round(serverUs / delivered, 3),
    serverUs,
    serverUsByRole,
    serverCores: mean((r) => r.serverCores),
    genCores: mean((r) => r.genCores),
    otherCores: mean((r) => r.otherCores),
    stealCores: mean((r) => r.stealCores),
  };
}

/** Client connections each balancer serves now (its /metrics gauge), by pid; none for a system without admin ports. */
async function perBalancer(handle) {
  const out = {};
  for (const { pid, port } of handle.admin ?? []) {
    const text = await withTimeout(fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()), 5000, 'balancer /metrics');
    const line = text.split('\n').find((l) => l.startsWith('gateway_balancer_client_connections '));
    out[pid] = line ? Number(line.split(' ')[1]) : null;
  }
  return out;
}

/**
 * Runs the curve with the gateway adapter at `systemPath`; `cfg.scale` is the mode's settings
 * (run.mjs MODES): `steps`, `closedDeliveries`/`burstDeliveries` per step and the message bounds.
 */
export async function scaleCurve({ systemPath, cfg, jwtSecret, addrOctet, cleanups, log }) {
  const s = cfg.scale;
  const steps = s.steps;
  const max = steps.at(-1);
  const balancers = processesFor(max);
  const workers = processesFor(max);
  const system = (await import(pathToFileURL(systemPath).href)).default;
  log(`\n## Scale curve (${system.name}): ${steps.map((n) => n.toLocaleString('en-US')).join(', ')} connections; ${balancers} server processes on one port (SO_REUSEPORT), ${workers} load-generator processes`);
  const started = Date.now();

  const redis = await startRedisServer();
  cleanups.push(() => redis.stop());
  const handle = await withTimeout(system.start({ redisUrl: redis.url, jwtSecret, balancers, host: '127.0.0.1', sharedPort: true }), 60_000, 'gateway start');
  const stopHandle = () => withTimeout(handle.stop(), 20_000, 'gateway stop');
  cleanups.push(stopHandle);
  const pool = await createPool({ size: workers, systemPath, jwtSecret });
  cleanups.push(() => pool.stop());
  const info = new Redis(redis.url, { connectionName: 'bench-info' });
  cleanups.push(async () => info.disconnect());
  const baseCtx = { pool, handle, system, cfg, redisPid: redis.pid, redis: info, log };
  const processes = handle.processes.map(({ role, pid }) => ({ role, pid }));
  log(`  started: ${processes.map((p) => `${p.role} ${p.pid}`).join(', ')}; ${handle.urls.join(' ')}; loadgen ${pool.pids().join(', ')}`);

  const rss0 = await rssAfterGc(baseCtx);
  let rssPrev = rss0;
  let have = 0;
  const points = [];
  for (const target of steps) {
    const c = await connect(baseCtx, { group: 'scale', count: target - have, startIndex: have, room: ROOM, urls: handle.urls, addrOctet });
    if (c.connected < target - have) throw new Error(`scale curve: only ${c.connected} of ${target - have} connections at the ${target} step (${JSON.stringify(c.failures)})`);
    const before = have;
    have += c.connected;
    const rss = await rssAfterGc(baseCtx);
    const spread = Object.values(await perBalancer(handle));
    const memory = { bytesPerConn: bytesPerConn(baseCtx, rss0, rss, have), marginalBytesPerConn: bytesPerConn(baseCtx, rssPrev, rss, have - before) };
    rssPrev = rss;
    log(`  @${have}: connected ${c.connected} in ${c.seconds} s (${c.perSec}/s, ${c.failed} failed attempts); per balancer ${spread.join(' / ')}; bytes/conn ${JSON.stringify(memory.bytesPerConn)}, since the previous step ${JSON.stringify(memory.marginalBytesPerConn)}`);

    const closedMessages = messagesFor(have, s.closedDeliveries, s.minMessages, s.maxClosedMessages);
    const rounds = burstRounds(have, s.burstDeliveries, s.maxBurstRounds);
    const spec = { group: 'scale', room: ROOM };
    await warmUp(baseCtx, spec);
    const f = { closed: combineRuns([await fanoutRun(baseCtx, { ...spec, seqFrom: 1, count: closedMessages, closedLoop: true })]) };
    const bursts = [];
    for (let r = 0, seq = 1 + closedMessages; r < rounds; r++, seq += BURST) {
      await sleep(200);
      bursts.push(await fanoutRun(baseCtx, { ...spec, seqFrom: seq, count: BURST, closedLoop: false }));
    }
    f.burst = combineRuns(bursts);
    const point = { conns: have, connect: { seconds: c.seconds, perSec: c.perSec, failed: c.failed }, perBalancer: spread, rss, ...memory, fanout: {} };
    for (const mode of ['closed', 'burst']) {
      const x = f[mode];
      const byRole = Object.fromEntries(Object.entries(x.serverUsByRole).map(([role, us]) => [role, Number((us / x.delivered).toFixed(3))]));
      point.fanout[mode] = {
        messages: x.published,
        subscribers: x.subscribers,
        delivered: x.delivered,
        expected: x.expected,
        complete: !x.stalled && x.delivered === x.expected,
        perSec: x.perSec,
        p50Ms: x.p50Ms,
        p99Ms: x.p99Ms,
        maxMs: x.maxMs,
        // Closed loop: one broadcast at a time, so this is how long one takes to reach everyone.
        msPerBroadcast: Number(((x.seconds * 1000) / x.published).toFixed(2)),
        cpuUsPerDelivery: x.cpuUsPerDelivery,
        usPerDeliveryByRole: byRole,
        serverCores: x.serverCores,
        genCores: x.genCores,
        otherCores: x.otherCores,
        stealCores: x.stealCores,
      };
      log(`    fan-out ${mode}: ${x.published} broadcasts × ${x.subscribers} = ${x.delivered}/${x.expected} deliveries, ${x.perSec}/s, ${point.fanout[mode].msPerBroadcast} ms per broadcast, p50 ${x.p50Ms} ms p99 ${x.p99Ms} ms; ${x.cpuUsPerDelivery} µs CPU/delivery ${JSON.stringify(byRole)}; server ${x.serverCores} gen ${x.genCores} other ${x.otherCores} cores`);
    }
    points.push(point);
  }
  // Closes the generator did not ask for, by close code, over every worker.
  const unexpectedCloses = {};
  for (const st of await pool.all('status', {}, 10_000)) for (const [code, n] of Object.entries(st.unexpectedCloses)) unexpectedCloses[code] = (unexpectedCloses[code] ?? 0) + n;
  await pool.all('close', { group: 'scale' }, 60_000);
  for (let i = 0; i < 4; i++) await cleanups.pop()();
  const out = { system: system.name, steps, balancers, workers, perProcess: PER_PROCESS, processes, unexpectedCloses, points, seconds: Math.round((Date.now() - started) / 1000) };
  out.flatness = flatness(out);
  return out;
}
