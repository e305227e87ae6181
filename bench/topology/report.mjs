/**
 * The Redis topology comparison's summary (compare.mjs): medians per topology over the rounds,
 * the ratios cluster ÷ standalone, and per-unit costs a capacity model can be built from.
 *
 * What drives each role's cost: a publication costs Redis one script run on the node serving its
 * stream's slot (plus one pub/sub write per subscribed monolith); the monolith decodes it once and
 * sends one link frame per balancer holding a subscriber; a balancer parses each link frame once
 * and writes the message to each subscriber. A delivery's cost depends on batching: in the
 * closed loop each socket gets one message at a time (one write each, as at a realistic per-
 * connection rate); in the burst several messages share a write. Both are reported, not fitted.
 */
import { median, round } from '../loadgen/measure.mjs';
import { num } from '../loadgen/report.mjs';

/** [label, value of one run, digits]. */
const METRICS = [
  ['publish: publications/s (closed loop)', (r) => r.publish.perSec, 0],
  ['publish: delivery p50 / p99 ms', (r) => [r.publish.p50Ms, r.publish.p99Ms], 2],
  ['publish: Redis CPU µs/publication (all nodes)', (r) => r.publish.usPerPublication.redis, 1],
  ['publish: Redis script µs/publication (commandstats: wall time in Redis)', (r) => r.publish.usPerPublication.redisScript, 1],
  ['publish: monolith CPU µs/publication', (r) => r.publish.usPerPublication.monolith, 1],
  ['publish: balancers CPU µs/publication', (r) => r.publish.usPerPublication.balancer, 1],
  ['publish: publisher (ioredis) CPU µs/publication', (r) => r.publish.usPerPublication.publisher, 1],
  ['publish: Redis cores (all nodes)', (r) => r.publish.redisCores, 2],
  ['publish: busiest node ÷ mean (publications)', (r) => spread(r.publish.nodes), 2],
  ['publish: Redis bytes/stream (with its history)', (r) => r.publish.redisBytesPerStream, 0],
  ['fan-out closed: deliveries/s', (r) => r.fanout.closed.deliveriesPerSec, 0],
  ['fan-out closed: p50 / p99 ms', (r) => [r.fanout.closed.p50Ms, r.fanout.closed.p99Ms], 2],
  ['fan-out closed: CPU µs/delivery (all servers)', (r) => r.fanout.closed.cpuUsPerDelivery, 2],
  ['fan-out burst: deliveries/s', (r) => r.fanout.burst.deliveriesPerSec, 0],
  ['fan-out burst: publications/s acknowledged', (r) => r.fanout.burst.publicationsPerSec, 0],
  ['fan-out burst: p50 / p99 ms', (r) => [r.fanout.burst.p50Ms, r.fanout.burst.p99Ms], 2],
  ['fan-out burst: CPU µs/delivery (all servers)', (r) => r.fanout.burst.cpuUsPerDelivery, 2],
  ['fan-out burst: balancers µs/delivery', (r) => r.fanout.burst.usPerDelivery.balancer, 3],
  ['fan-out burst: monolith µs/delivery', (r) => r.fanout.burst.usPerDelivery.monolith, 3],
  ['fan-out burst: Redis CPU µs/publication', (r) => r.fanout.burst.usPerPublication.redis, 1],
  ['fan-out burst: monolith µs/publication', (r) => r.fanout.burst.usPerPublication.monolith, 1],
  ['other tenants / steal cores (publish, burst)', (r) => [r.publish.otherCores + r.publish.stealCores, r.fanout.burst.otherCores + r.fanout.burst.stealCores], 2],
];

/** Busiest node's publications ÷ the mean over nodes (1 = even; a standalone server is 1). */
function spread(nodes) {
  const pubs = nodes.map((n) => n.publications);
  const mean = pubs.reduce((a, b) => a + b, 0) / pubs.length;
  return mean > 0 ? Math.max(...pubs) / mean : null;
}

/** Medians of a metric's value (a number or a pair) over runs. */
function medianOf(runs, get) {
  const values = runs.map(get);
  if (Array.isArray(values[0])) return values[0].map((_, i) => median(values.map((v) => v[i])));
  return median(values);
}

/** The per-unit costs of one topology's medians (see the file comment). */
function unitCosts(runs) {
  const m = (get) => medianOf(runs, get);
  const entries = m((r) => r.publish.historyEntriesPerStream);
  return {
    redisUsPerPublication: round(m((r) => r.publish.usPerPublication.redis), 1),
    redisUsPerPublicationPerNode: round(m((r) => median(r.publish.nodes.map((n) => n.cpuUsPerPublication))), 1),
    redisScriptUsPerPublication: round(m((r) => r.publish.usPerPublication.redisScript), 1),
    redisUsPerPublicationClosed: round(m((r) => r.fanout.closed.usPerPublication.redis), 1),
    redisBytesPerStream: Math.round(m((r) => r.publish.redisBytesPerStream)),
    historyEntriesPerStream: entries,
    redisBytesPerHistoryEntry: Math.round(m((r) => r.publish.redisBytesPerStream / r.publish.historyEntriesPerStream)),
    monolithUsPerPublication1: round(m((r) => r.publish.usPerPublication.monolith), 1),
    monolithUsPerPublicationClosed: round(m((r) => r.fanout.closed.usPerPublication.monolith), 1),
    monolithUsPerPublicationBurst: round(m((r) => r.fanout.burst.usPerPublication.monolith), 1),
    monolithUsPerDeliveryClosed: round(m((r) => r.fanout.closed.usPerDelivery.monolith), 3),
    balancerUsPerPublication1: round(m((r) => r.publish.usPerPublication.balancer), 1),
    balancerUsPerDeliveryClosed: round(m((r) => r.fanout.closed.usPerDelivery.balancer), 2),
    balancerUsPerDeliveryBurst: round(m((r) => r.fanout.burst.usPerDelivery.balancer), 2),
    publisherUsPerPublication: round(m((r) => r.publish.usPerPublication.publisher), 1),
    k: round(m((r) => r.fanout.subscribers / r.fanout.streams), 1),
  };
}

/** The comparison's results object: runs, medians per topology, ratios, per-unit costs. */
export function summarize(runs, cfg) {
  const by = { standalone: runs.filter((r) => r.topology === 'standalone'), cluster: runs.filter((r) => r.topology === 'cluster') };
  const rows = METRICS.map(([label, get, digits]) => {
    const s = medianOf(by.standalone, get);
    const c = medianOf(by.cluster, get);
    const ratio = Array.isArray(s) ? s.map((x, i) => round(c[i] / x, 2)) : round(c / s, 2);
    return { label, digits, standalone: s, cluster: c, ratio };
  });
  return { config: cfg.topology, runs, rows, unitCosts: { standalone: unitCosts(by.standalone), cluster: unitCosts(by.cluster) } };
}

const cell = (v, digits) => (Array.isArray(v) ? v.map((x) => num(x, digits)).join(' / ') : num(v, digits));
const ratioCell = (v) => (Array.isArray(v) ? v.map((x) => num(x, 2)).join(' / ') : num(v, 2));

/** Markdown: the comparison table and the per-unit costs. */
export function formatTopology(result) {
  const t = result.config;
  const out = [];
  out.push(`## Redis topology: standalone vs cluster (${t.primaries} primaries, no replicas)\n`);
  out.push(
    `Medians of ${t.rounds} round(s) per topology. Publish: ${t.publish.lanes} publishers, closed loop on the acknowledgement, over ${num(t.publish.streams)} room streams with one subscriber each, ` +
      `${t.publish.durationMs / 1000} s. Fan-out: ${num(t.fanout.subscribers)} subscribers over ${num(t.fanout.streams)} streams (~${num(t.fanout.subscribers / t.fanout.streams)} per stream, spread over 2 balancers), ` +
      `each message published to every stream: closed loop (≤ ${t.fanout.fanoutClosedMessages} messages, ${t.fanout.fanoutClosedMaxMs / 1000} s) and a burst of ${t.fanout.fanoutBurstMessages}. ` +
      'CPU from /proc (user+sys); Redis = every node.\n',
  );
  out.push('| metric | standalone | cluster | cluster ÷ standalone |');
  out.push('| --- | --- | --- | --- |');
  for (const r of result.rows) out.push(`| ${r.label} | ${cell(r.standalone, r.digits)} | ${cell(r.cluster, r.digits)} | ${ratioCell(r.ratio)} |`);
  out.push('\nPer-unit costs (CPU µs; for a capacity model):\n');
  out.push('| unit | standalone | cluster |');
  out.push('| --- | --- | --- |');
  const u = result.unitCosts;
  const k = num(u.cluster.k);
  const line = (label, key, digits) => out.push(`| ${label} | ${num(u.standalone[key], digits)} | ${num(u.cluster[key], digits)} |`);
  line('Redis CPU per publication, on the shard serving its stream (publish run: all nodes ÷ publications)', 'redisUsPerPublication', 1);
  line("Redis CPU per publication, median over nodes (each node's CPU ÷ its publications)", 'redisUsPerPublicationPerNode', 1);
  line('script time (INFO commandstats EVAL/EVALSHA: wall time, above CPU when Redis is descheduled)', 'redisScriptUsPerPublication', 1);
  line(`Redis CPU per publication, fan-out closed loop (${k} subscribers per stream)`, 'redisUsPerPublicationClosed', 1);
  line('Redis bytes per stream (publish run, metadata + history)', 'redisBytesPerStream', 0);
  line('history entries per stream then (≤ HISTORY_ROOM_SIZE)', 'historyEntriesPerStream', 0);
  line('Redis bytes per history entry (~100 B payload)', 'redisBytesPerHistoryEntry', 0);
  line('monolith per publication, 1 subscriber per stream (1 link frame)', 'monolithUsPerPublication1', 1);
  line(`monolith per publication, ${k} subscribers per stream over 2 balancers (2 link frames), closed loop`, 'monolithUsPerPublicationClosed', 1);
  line('monolith per publication, same, burst', 'monolithUsPerPublicationBurst', 1);
  line(`monolith per delivery, closed loop (${k} per publication)`, 'monolithUsPerDeliveryClosed', 3);
  line('balancers per publication, 1 subscriber per stream (1 link frame + 1 delivery)', 'balancerUsPerPublication1', 1);
  line('balancers per delivery, one message per socket at a time (fan-out closed loop)', 'balancerUsPerDeliveryClosed', 2);
  line('balancers per delivery, burst (messages share writes)', 'balancerUsPerDeliveryBurst', 2);
  line('publisher (ioredis client) per publication', 'publisherUsPerPublication', 1);
  return out.join('\n');
}
