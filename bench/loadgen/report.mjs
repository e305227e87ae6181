/**
 * Markdown tables of one benchmark results object (bench/run.mjs writes it): per system, then
 * ratios against the ceiling (uws-raw) and the common choice (socketio).
 */

export const num = (x, digits = 0) => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const k = (x) => (Number.isFinite(x) ? (x >= 10_000 ? `${num(x / 1000, 0)}k` : x >= 1000 ? `${num(x / 1000, 1)}k` : num(x, 0)) : 'n/a');
const others = (r) => `${num(r.otherCores, 2)} / ${num(r.stealCores, 2)}`;
const lat = (r) => (r ? `${num(r.p50Ms, 2)} / ${num(r.p99Ms, 2)}` : 'n/a');

function table(head, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The request/response row at the highest concurrency measured. */
const topRr = (list) => list?.at(-1);

/** The headline numbers of one system, used by the ratio tables and the chart. */
export function headline(s) {
  const idle = s.idle?.at(-1);
  return {
    fanoutClosedPerSec: s.fanout?.closed.perSec,
    fanoutBurstPerSec: s.fanout?.burst.perSec,
    cpuUsPerDelivery: s.fanout?.burst.cpuUsPerDelivery,
    rtPerSec: topRr(s.reqresp)?.perSec,
    cpuUsPerRt: topRr(s.reqresp)?.cpuUsPerRt,
    idleBytesPerConn: idle ? Object.values(idle.bytesPerConn).reduce((a, b) => a + b, 0) : undefined,
    connectPerSec: s.connect?.perSec,
    stormSeconds: s.storm?.secondsToAllBack ?? undefined,
  };
}

const RATIO_METRICS = [
  ['fan-out del/s (closed)', 'fanoutClosedPerSec', true],
  ['fan-out del/s (burst)', 'fanoutBurstPerSec', true],
  ['CPU µs/delivery (burst)', 'cpuUsPerDelivery', false],
  ['rt/s (top c)', 'rtPerSec', true],
  ['CPU µs/rt (top c)', 'cpuUsPerRt', false],
  ['idle bytes/conn (all roles)', 'idleBytesPerConn', false],
  ['connect/s', 'connectPerSec', true],
  ['storm s to all back', 'stormSeconds', false],
];

export function formatReport(results) {
  const systems = Object.values(results.systems);
  const out = [];
  out.push(`# Benchmark: ${results.command}`);
  out.push(
    `${results.startedAt}, ${results.host.cores} cores (${results.host.cpu}), Node ${results.host.node}, ${results.workers} load-generator processes; run took ${results.seconds} s. ` +
      'CPU = user+sys of every server process plus Redis; "cores" = CPU time / wall time; gen = load generator + publisher; ' +
      'other = CPU the rest of this shared machine used meanwhile, steal = taken by the hypervisor.',
  );

  out.push('\n## Idle, connect, reconnect storm\n');
  out.push(
    table(
      ['system', ...results.config.idle.map((n) => `idle bytes/conn @${num(n)} (per role)`), 'connect+auth /s (conns, failed)', `connect p50 / p99 ms (${num(results.config.connectInflight * results.workers)} in flight)`, 'storm: clients, s to all back', 'storm failed / attempts'],
      systems.map((s) => [
        s.label,
        ...results.config.idle.map((_, i) => {
          const idle = s.idle?.[i];
          return idle ? Object.entries(idle.bytesPerConn).map(([role, b]) => `${role} ${num(b)}`).join(', ') : 'n/a';
        }),
        `${num(s.connect?.perSec)} (${num(s.connect?.conns)}, ${num(s.connect?.failed)})`,
        lat(s.connect?.phases?.[0]),
        s.storm ? `${num(s.storm.clients)}, ${s.storm.allBack ? num(s.storm.secondsToAllBack, 2) : `not all back (${s.storm.stillDown} down)`}` : 'n/a',
        s.storm ? `${num(s.storm.failedAttempts)} / ${num(s.storm.attempts)}` : 'n/a',
      ]),
    ),
  );

  const subs = systems[0]?.fanout?.subscribers;
  out.push(`\n## Fan-out (${num(subs)} subscribers of one room over two server processes)\n`);
  out.push(
    table(
      ['system', 'mode', 'messages', 'deliveries/s', 'p50 / p99 ms', 'CPU µs/delivery', 'server cores', 'gen cores', 'other / steal cores', 'delivered'],
      systems.flatMap((s) =>
        ['closed', 'burst'].map((mode) => {
          const f = s.fanout?.[mode];
          if (!f) return [s.label, mode, ...Array(8).fill('n/a')];
          const lost = f.expected - f.delivered;
          return [s.label, mode === 'closed' ? 'closed loop' : 'burst', num(f.published), k(f.perSec), lat(f), num(f.cpuUsPerDelivery, 2), num(f.serverCores, 2), num(f.genCores, 2), others(f), lost > 0 ? `${num(f.delivered)} of ${num(f.expected)}` : 'all'];
        }),
      ),
    ),
  );

  out.push('\n## Request/response (ping → pong, closed loop)\n');
  const rrRows = [];
  for (const s of systems) {
    for (const [label, list] of [[s.label, s.reqresp], [`${s.label}: direct to monolith`, s.direct]]) {
      if (!list) {
        if (label.includes('direct') && s.name === 'gateway') rrRows.push([label, ...Array(7).fill('n/a')]);
        continue;
      }
      for (const r of list) rrRows.push([label, num(r.concurrency), k(r.perSec), lat(r), num(r.cpuUsPerRt, 2), num(r.serverCores, 2), num(r.genCores, 2), others(r)]);
    }
  }
  out.push(table(['system', 'concurrency', 'round trips/s', 'p50 / p99 ms', 'CPU µs/rt', 'server cores', 'gen cores', 'other / steal cores'], rrRows));

  for (const ref of ['uws-raw', 'uws-relay', 'socketio']) {
    const base = results.systems[ref];
    if (!base) continue;
    const b = headline(base);
    const rest = systems.filter((s) => s.name !== ref);
    if (rest.length === 0) continue;
    out.push(`\n## Ratios vs ${base.label} (higher is better for rates, lower for costs)\n`);
    out.push(
      table(
        ['metric', ...rest.map((s) => `${s.name} ÷ ${base.name}`)],
        RATIO_METRICS.map(([label, key]) => [label, ...rest.map((s) => ratio(headline(s)[key], b[key]))]),
      ),
    );
  }

  out.push(...deliveryTables(systems));

  const gen = systems.map((s) => {
    const all = [s.fanout?.closed, s.fanout?.burst, ...(s.reqresp ?? [])].filter(Boolean);
    const top = all.reduce((m, r) => (r.genCores > (m?.genCores ?? -1) ? r : m), null);
    return top ? `${s.name} ${num(top.genCores, 2)} gen vs ${num(top.serverCores, 2)} server cores` : `${s.name} n/a`;
  });
  out.push(`\nBusiest generator moment per system: ${gen.join('; ')} (of ${results.host.cores} cores shared by all).`);
  return out.join('\n');
}

/** The gateway's delivery scenarios: fan-out with history on vs off, and the two storms. */
function deliveryTables(systems) {
  const out = [];
  for (const s of systems) {
    const h = s.history;
    if (h) {
      out.push(`\n## Fan-out with history on vs off (${s.name}; ${num(h.subscribers)} subscribers, medians of ${h.rounds} alternating rounds)\n`);
      const rows = [];
      for (const kind of ['closed', 'burst']) {
        for (const mode of ['on', 'off']) {
          const m = h.medians[kind][mode];
          const size = h.runs[mode][0]?.policy.size;
          rows.push([kind === 'closed' ? 'closed loop' : 'burst', `${mode} (size ${num(size)})`, num(m.publishPerSec), k(m.perSec), lat(m), num(m.cpuUsPerDelivery, 3), num(m.redisUsPerPublication, 2), m.complete ? 'all' : 'some missing']);
        }
        const r = h.ratio[kind];
        const on = h.medians[kind].on.redisUsPerPublication;
        const off = h.medians[kind].off.redisUsPerPublication;
        rows.push([kind === 'closed' ? 'closed loop' : 'burst', '**on ÷ off**', ratio(r.publishPerSec, 1), ratio(r.perSec, 1), `${ratio(r.p50Ms, 1)} / ${ratio(r.p99Ms, 1)}`, `**${ratio(r.cpuUsPerDelivery, 1)}**`, ratio(on / off, 1), '']);
      }
      out.push(table(['mode', 'history', 'publications/s', 'deliveries/s', 'p50 / p99 ms', 'CPU µs/delivery', 'Redis µs/publication (commandstats)', 'delivered'], rows));
    }
    const q = s.recoveryStorm;
    if (q && s.storm) {
      out.push(`\n## Reconnect storm vs recovery storm (${s.name}; every client of one balancer, the balancer restarted)\n`);
      const dropped = (x) => (Object.keys(x.droppedAgain ?? {}).length ? Object.entries(x.droppedAgain).map(([c, n]) => `${num(n)}× ${c}`).join(', ') : 'none');
      const row = (label, x, missed, recovered) => [
        label,
        num(x.clients),
        num(missed),
        recovered ? (x.allRecovered ? 'all recovered' : `${num(x.recovered)} recovered, ${num(x.stillDown)} down`) : x.allBack ? 'all back' : `${num(x.stillDown)} down`,
        `${num(x.restartMs / 1000, 2)} + ${num(x.secondsFromReady, 2)}`,
        recovered ? `${lat(x.toRecovered)}` : lat(x.welcome),
        recovered ? `${num(x.replayedPerClient, 1)}; ${num(x.told)} / ${num(x.dups)} / ${num(x.gaps)}` : 'n/a',
        x.redisCommands ? num(x.redisCommands.perClient, 2) : 'n/a',
        dropped(x),
      ];
      out.push(
        table(
          ['storm', 'clients', 'missed each', 'outcome', 'restart s + s from ready to the last', 'per client open → welcome (recovered) p50 / p99 ms', 'replayed per client; told / dups / gaps', 'Redis commands per client', 'dropped again'],
          [row('plain reconnect', s.storm, 0, false), row('recovery (auth with since)', q, q.missed, true)],
        ),
      );
      out.push(`\nRecovery storm ÷ plain storm (s from the balancer ready again to the last client): ${q.ratioToStorm === null || q.ratioToStorm === undefined ? 'n/a (not all recovered)' : `${q.ratioToStorm.toFixed(2)}×`}.`);
    }
  }
  return out;
}

function ratio(a, b) {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return 'n/a';
  return `${(a / b).toFixed(2)}×`;
}
