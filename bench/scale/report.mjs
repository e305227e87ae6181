/**
 * The scale curve's verdict and table (curve.mjs): each step's per-connection figures against
 * the first step's. Flat means every ratio at most FLAT_LIMIT (the target: within 1.2× of the
 * 5k point); a ratio below 1 is a fixed cost spread over more connections.
 */
import { num } from '../loadgen/report.mjs';

export const FLAT_LIMIT = 1.2;

/** [key, label, value of one point]: the figures the target holds flat. */
export const FLAT_METRICS = [
  ['balancerBytes', 'balancers RSS bytes/conn', (p) => p.bytesPerConn.balancer],
  ['monolithBytes', 'monolith RSS bytes/conn', (p) => p.bytesPerConn.monolith],
  ['closedUs', 'CPU µs/delivery, one broadcast at a time', (p) => p.fanout.closed.cpuUsPerDelivery],
  ['burstUs', 'CPU µs/delivery, burst', (p) => p.fanout.burst.cpuUsPerDelivery],
];

const ratio = (x, base) => (Number.isFinite(x) && Number.isFinite(base) && base > 0 ? Number((x / base).toFixed(3)) : null);

/** Per metric: each point's ratio to the first point, the largest, and whether it stays within FLAT_LIMIT. */
export function flatness(curve) {
  const [first] = curve.points;
  const metrics = {};
  for (const [key, label, get] of FLAT_METRICS) {
    const ratios = curve.points.map((p) => ratio(get(p), get(first)));
    const worst = Math.max(...ratios.map((r) => r ?? Infinity));
    metrics[key] = { label, ratios, worst, flat: worst <= FLAT_LIMIT };
  }
  return { limit: FLAT_LIMIT, base: first?.conns, metrics, flat: Object.values(metrics).every((m) => m.flat) };
}

function table(head, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Markdown: one row per step, then the flatness verdict per metric. */
export function formatScale(curve) {
  const servers = curve.system === 'gateway' ? `${curve.balancers} balancers on one port, 1 monolith` : `${curve.balancers} ${curve.system} processes on one port`;
  const out = [`## Scale curve (${servers}, ${curve.workers} load-generator processes; ${curve.seconds} s)\n`];
  const f = curve.flatness;
  out.push(
    table(
      ['connections', 'per balancer', 'balancers bytes/conn (since previous step)', 'monolith bytes/conn (since previous step)', 'one broadcast to all: ms (p99 delivery ms)', 'CPU µs/delivery closed loop (balancers / monolith)', 'CPU µs/delivery burst (balancers / monolith)', 'other / steal cores'],
      curve.points.map((p) => {
        const c = p.fanout.closed;
        const b = p.fanout.burst;
        const roles = (x) => `${num(x.usPerDeliveryByRole.balancer, 3)} / ${num(x.usPerDeliveryByRole.monolith, 3)}`;
        return [
          num(p.conns),
          p.perBalancer.map((n) => num(n)).join(' / '),
          `${num(p.bytesPerConn.balancer)} (${num(p.marginalBytesPerConn.balancer)})`,
          `${num(p.bytesPerConn.monolith)} (${num(p.marginalBytesPerConn.monolith)})`,
          `${num(c.msPerBroadcast, 1)} (${num(c.p99Ms, 1)})`,
          `${num(c.cpuUsPerDelivery, 3)} (${roles(c)})${c.complete ? '' : ' incomplete'}`,
          `${num(b.cpuUsPerDelivery, 3)} (${roles(b)})${b.complete ? '' : ' incomplete'}`,
          `${num(b.otherCores, 2)} / ${num(b.stealCores, 2)}`,
        ];
      }),
    ),
  );
  out.push('');
  out.push(
    table(
      ['figure', ...curve.points.map((p) => `÷ @${num(f.base)} at ${num(p.conns)}`), `flat (≤ ${f.limit}×)`],
      Object.values(f.metrics).map((m) => [m.label, ...m.ratios.map((r) => (r === null ? 'n/a' : `${num(r, 2)}×`)), m.flat ? 'yes' : '**no**']),
    ),
  );
  return out.join('\n');
}
