/** The fan-out scenarios: one room's publications to every member, history on and off (scenarios.mjs). */
import { Histogram } from './histogram.mjs';
import { cpuSummary, latency, median, meter, redisUsec, round, sleep, withTimeout } from './measure.mjs';
import { commandDelta } from './redis-stats.mjs';

/** Fan-out to every welcomed member of `group`: a closed loop, then a burst. */
export async function fanout(ctx, { group, room }) {
  const { cfg } = ctx;
  await warmUp(ctx, { group, room });
  let seq = 1;
  const closed = await fanoutRun(ctx, { group, room, seqFrom: seq, count: cfg.fanoutClosedMessages, closedLoop: true });
  seq += cfg.fanoutClosedMessages;
  await sleep(200);
  const burst = await fanoutRun(ctx, { group, room, seqFrom: seq, count: cfg.fanoutBurstMessages, closedLoop: false });
  return { subscribers: closed.subscribers, closed, burst, nextSeq: seq + cfg.fanoutBurstMessages };
}

const HISTORY_METRICS = ['cpuUsPerDelivery', 'perSec', 'publishPerSec', 'p99Ms', 'p50Ms'];

/**
 * Fan-out with history on and off (gateway: `handle.setHistory`), to the same members of one
 * warmed-up room, in `rounds` rounds that alternate which goes first (off, on / on, off / ...),
 * so drift on a shared machine hits both alike. Each run is a closed loop then a burst, as
 * `fanout`; per mode the medians over rounds, and the ratios on ÷ off of those medians.
 */
export async function fanoutHistory(ctx, { group, room, rounds, seqFrom }) {
  const { cfg, handle } = ctx;
  const runs = { on: [], off: [] };
  let seq = seqFrom;
  try {
    for (let r = 0; r < rounds; r++) {
      for (const mode of r % 2 === 0 ? ['off', 'on'] : ['on', 'off']) {
        handle.setHistory(mode === 'on');
        const policy = handle.history();
        const closed = await fanoutRun(ctx, { group, room, seqFrom: seq, count: cfg.historyClosedMessages, closedLoop: true });
        seq += cfg.historyClosedMessages;
        await sleep(200);
        const burst = await fanoutRun(ctx, { group, room, seqFrom: seq, count: cfg.historyBurstMessages, closedLoop: false });
        seq += cfg.historyBurstMessages;
        await sleep(200);
        runs[mode].push({ round: r, policy, closed, burst });
        ctx.log(`    history ${mode} (size ${policy.size}) round ${r + 1}: closed ${closed.publishPerSec} pub/s, ${closed.cpuUsPerDelivery} µs CPU/delivery, p99 ${closed.p99Ms} ms; burst ${burst.publishPerSec} pub/s acknowledged, ${burst.perSec} del/s, ${burst.cpuUsPerDelivery} µs CPU/delivery, p99 ${burst.p99Ms} ms, Redis commands ${burst.redisCommandUsPerPublication} µs/publication`);
      }
    }
  } finally {
    handle.setHistory(true);
  }
  const medians = {};
  const ratio = {};
  for (const kind of ['closed', 'burst']) {
    medians[kind] = {};
    ratio[kind] = {};
    for (const mode of ['on', 'off']) {
      medians[kind][mode] = Object.fromEntries(HISTORY_METRICS.map((k) => [k, round(median(runs[mode].map((x) => x[kind][k])), 3)]));
      medians[kind][mode].redisUsPerPublication = round(median(runs[mode].map((x) => x[kind].redisCommandUsPerPublication)), 2);
      medians[kind][mode].complete = runs[mode].every((x) => !x[kind].stalled && x[kind].delivered === x[kind].expected);
    }
    for (const k of HISTORY_METRICS) ratio[kind][k] = round(medians[kind].on[k] / medians[kind].off[k], 3);
  }
  return { rounds, subscribers: runs.on[0]?.closed.subscribers, runs, medians, ratio, nextSeq: seq };
}

/**
 * Publishes message 0 until every member has one: systems subscribe a room's Redis channel
 * asynchronously when its first member joins (INTERFACE.md, Changes), so the first measured
 * message could otherwise reach nobody.
 */
export async function warmUp(ctx, { group, room }) {
  const { pool, handle, system } = ctx;
  let reported = 0;
  let busy = Infinity;
  let onAll;
  const all = new Promise((r) => (onAll = r));
  const off = pool.onEvent((_i, msg) => {
    if (msg.ev === 'seq' && msg.seq === 0 && ++reported >= busy) onAll();
  });
  try {
    const arm = await pool.all('fanout', { group, seqFrom: 0, seqTo: 1, closedLoop: true }, 10_000);
    busy = arm.filter((r) => r.members > 0).length;
    if (reported >= busy) return;
    const deadline = Date.now() + 15_000;
    for (;;) {
      await withTimeout(handle.publish(room, system.payload(0, process.hrtime.bigint())), 5000, 'publish');
      if (await Promise.race([all.then(() => true), sleep(250).then(() => false)])) break;
      if (Date.now() > deadline) throw new Error(`fan-out warm-up: ${reported} of ${busy} workers saw a delivery within 15 s`);
    }
  } finally {
    off();
    await pool.all('fanoutReport', {}, 10_000);
  }
}

/** One fan-out run of `count` publications to every welcomed member of `group`: a closed loop (the next once every member has one) or a burst. */
export async function fanoutRun(ctx, { group, room, seqFrom, count, closedLoop }) {
  const { pool, handle, system, cfg } = ctx;
  const seqTo = seqFrom + count;
  const perSeq = new Map();
  let busy = 0;
  let seqWaiter = null;
  let doneWorkers = 0;
  let onAllDone;
  const allDone = new Promise((r) => (onAllDone = r));
  // Listen before arming: a worker without members reports done while it is being armed.
  const off = pool.onEvent((_i, msg) => {
    if (msg.ev === 'seq') {
      const n = (perSeq.get(msg.seq) ?? 0) + 1;
      perSeq.set(msg.seq, n);
      if (n === busy && seqWaiter?.seq === msg.seq) seqWaiter.resolve();
    } else if (msg.ev === 'fanout-done' && ++doneWorkers === pool.size) onAllDone();
  });
  const arm = await pool.all('fanout', { group, seqFrom, seqTo, closedLoop }, 10_000);
  const subscribers = arm.reduce((s, r) => s + r.members, 0);
  busy = arm.filter((r) => r.members > 0).length;
  const usec0 = await redisUsec(ctx);
  const m = meter(ctx);
  const t0 = Number(process.hrtime.bigint());
  let published = 0;
  let stalled = false;
  let publishedNs = 0;
  try {
    if (closedLoop) {
      const deadline = Date.now() + cfg.fanoutClosedMaxMs;
      for (let s = seqFrom; s < seqTo && Date.now() < deadline; s++) {
        const got = new Promise((resolve) => (seqWaiter = { seq: s, resolve }));
        await withTimeout(handle.publish(room, system.payload(s, process.hrtime.bigint())), 5000, 'publish');
        published++;
        // A message every member never gets would stall the loop: give up on it after a bound.
        const ok = await Promise.race([got.then(() => true), sleep(cfg.fanoutMessageTimeoutMs).then(() => false)]);
        if (!ok) {
          stalled = true;
          break;
        }
      }
    } else {
      const sends = [];
      for (let s = seqFrom; s < seqTo; s++) sends.push(handle.publish(room, system.payload(s, process.hrtime.bigint())));
      await withTimeout(Promise.all(sends), 30_000, 'burst publish');
      publishedNs = Number(process.hrtime.bigint());
      published = count;
      stalled = !(await Promise.race([allDone.then(() => true), sleep(cfg.fanoutBurstTimeoutMs).then(() => false)]));
    }
  } finally {
    off();
  }
  const cpu = cpuSummary(m.stop());
  const usec1 = await redisUsec(ctx);
  const reports = await pool.all('fanoutReport', {}, 10_000);
  const hist = new Histogram();
  let delivered = 0;
  let lastNs = 0;
  for (const r of reports) {
    hist.add(r.hist);
    delivered += r.delivered;
    lastNs = Math.max(lastNs, r.lastNs);
  }
  const seconds = (lastNs - t0) / 1e9;
  // Publications per second: acknowledged by the system (burst: all sent at once), or published
  // and delivered everywhere before the next (closed loop).
  const publishSeconds = closedLoop ? seconds : (publishedNs - t0) / 1e9;
  return {
    subscribers,
    published,
    expected: published * subscribers,
    delivered,
    stalled,
    seconds: round(seconds, 3),
    perSec: Math.round(delivered / seconds),
    publishPerSec: Math.round(published / publishSeconds),
    ...latency(hist),
    cpuUsPerDelivery: round(cpu.serverUs / delivered, 3),
    // What each server role spent per publication (Redis: the publish script, history or not).
    cpuUsPerPublicationByRole: Object.fromEntries(Object.entries(cpu.serverUsByRole).map(([role, us]) => [role, round(us / published, 1)])),
    // Redis' own account (INFO commandstats): µs its commands took per publication (the publish
    // script and what it calls, for the gateway; PUBLISH for the peers), finer than /proc ticks.
    redisCommandUsPerPublication: usec0 && usec1 ? round(commandDelta(usec0, usec1).total / published, 2) : null,
    ...cpu,
  };
}
