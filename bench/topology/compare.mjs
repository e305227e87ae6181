/**
 * Redis topology comparison (`npm run bench -- --systems redis-topology`, part of the default
 * run): the gateway (one monolith, two balancers) on a standalone Redis and on a local Redis
 * Cluster of `primaries` primaries without replicas (systems/redis-cluster.mjs), same machine,
 * same run, in `rounds` rounds that alternate which topology goes first. Each run starts its
 * Redis and a fresh gateway, measures the publish rate (one subscriber per stream) and the
 * fan-out over many streams (scenarios.mjs), and stops both. Summary and per-unit costs:
 * report.mjs.
 */
import { pathToFileURL } from 'node:url';
import { connect, withTimeout } from '../loadgen/scenarios.mjs';
import { startRedisCluster } from '../systems/redis-cluster.mjs';
import { startRedisServer } from '../systems/processes.mjs';
import { summarize } from './report.mjs';
import { NodeStats, fanoutMany, publishRate } from './scenarios.mjs';

export const TOPOLOGIES = ['standalone', 'cluster'];

/** Starts the Redis of `topology`: `{ nodes: [{ port, pid }], env: start() options, stop() }`. */
async function startTopology(topology, primaries) {
  if (topology === 'cluster') {
    const c = await startRedisCluster({ primaries });
    return { nodes: c.nodes, env: { redisClusterNodes: c.seeds }, stop: c.stop };
  }
  const r = await startRedisServer({ maxclients: 20_000 });
  return { nodes: [{ port: r.port, pid: r.pid }], env: { redisUrl: r.url }, stop: r.stop };
}

/**
 * Runs the comparison with the gateway adapter at `systemPath` and the load-generator `pool`;
 * `cfg` is the run's config with `topology` (see run.mjs MODES). Everything started is pushed on
 * `cleanups` while it runs and stopped (by pid) before the next run.
 */
export async function compareTopologies({ pool, systemPath, cfg, jwtSecret, addrOctet, cleanups, log }) {
  const system = (await import(pathToFileURL(systemPath).href)).default;
  const t = cfg.topology;
  log(`\n## Redis topology: standalone vs cluster (${t.primaries} primaries, no replicas), ${t.rounds} round(s)`);
  const runs = [];
  for (let round = 0; round < t.rounds; round++) {
    const order = round % 2 === 0 ? TOPOLOGIES : [...TOPOLOGIES].reverse();
    for (const topology of order) {
      runs.push(await runOne({ topology, round, pool, system, cfg, jwtSecret, addrOctet: addrOctet + runs.length, cleanups, log }));
    }
  }
  return summarize(runs, cfg);
}

async function runOne({ topology, round, pool, system, cfg, jwtSecret, addrOctet, cleanups, log }) {
  const t = cfg.topology;
  const started = Date.now();
  const redis = await startTopology(topology, t.primaries);
  cleanups.push(() => redis.stop());
  const handle = await withTimeout(system.start({ ...redis.env, jwtSecret, balancers: 2, host: '127.0.0.1' }), 60_000, `gateway on ${topology} start`);
  const stopHandle = () => withTimeout(handle.stop(), 20_000, 'gateway stop');
  cleanups.push(stopHandle);
  const stats = new NodeStats(redis.nodes);
  cleanups.push(async () => stats.close());
  const ctx = { pool, handle, system, cfg: { ...cfg, ...t.fanout }, redisPids: redis.nodes.map((n) => n.pid), redis: stats, log };
  log(`  ${topology} (round ${round + 1}): redis ${redis.nodes.map((n) => `${n.port}/${n.pid}`).join(', ')}; ${handle.processes.map((p) => `${p.role} ${p.pid}`).join(', ')}`);

  const p = t.publish;
  await connectAll(ctx, { group: 'topo-pub', count: p.streams, room: 'topo-p', rooms: p.streams, urls: handle.urls, addrOctet });
  const publish = await publishRate(ctx, { group: 'topo-pub', room: 'topo-p', streams: p.streams, lanes: p.lanes, durationMs: p.durationMs, stats, nodes: redis.nodes });
  const u = publish.usPerPublication;
  log(
    `    publish: ${publish.perSec}/s by ${p.lanes} publishers over ${p.streams} streams (${publish.delivered}/${publish.expected} delivered, p50 ${publish.p50Ms} ms p99 ${publish.p99Ms} ms); ` +
      `µs/publication redis ${u.redis} (script ${u.redisScript}), monolith ${u.monolith}, balancers ${u.balancer}, publisher ${u.publisher}; ` +
      `per node ${publish.nodes.map((n) => `${n.publications} pubs ${n.cores} cores`).join(' | ')}; ${publish.redisBytesPerStream} B/stream; other ${publish.otherCores} steal ${publish.stealCores} cores`,
  );
  await pool.all('close', { group: 'topo-pub' }, 30_000);

  const f = t.fanout;
  await connectAll(ctx, { group: 'topo-fan', count: f.subscribers, startIndex: p.streams, room: 'topo-f', rooms: f.streams, urls: handle.urls, addrOctet });
  const fan = await fanoutMany(ctx, { group: 'topo-fan', room: 'topo-f', streams: f.streams });
  for (const mode of ['closed', 'burst']) {
    const x = fan[mode];
    log(
      `    fan-out ${mode}: ${x.delivered}/${x.expected} deliveries to ${fan.subscribers} over ${fan.streams} streams, ${x.deliveriesPerSec} del/s, ${x.publicationsPerSec} pub/s, p50 ${x.p50Ms} ms p99 ${x.p99Ms} ms; ` +
        `µs/delivery all ${x.cpuUsPerDelivery}, balancers ${x.usPerDelivery.balancer}, monolith ${x.usPerDelivery.monolith}; µs/publication redis ${x.usPerPublication.redis}, monolith ${x.usPerPublication.monolith}; other ${x.otherCores} steal ${x.stealCores} cores`,
    );
  }
  await pool.all('close', { group: 'topo-fan' }, 30_000);

  for (let i = 0; i < 3; i++) await cleanups.pop()();
  return { topology, round, nodes: redis.nodes.length, seconds: Math.round((Date.now() - started) / 1000), publish, fanout: fan };
}

async function connectAll(ctx, spec) {
  const c = await connect(ctx, spec);
  if (c.connected < spec.count) throw new Error(`topology ${spec.group}: only ${c.connected} of ${spec.count} connections (${JSON.stringify(c.failures)})`);
  return c;
}
