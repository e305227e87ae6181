/**
 * The benchmark scenarios, each driving one started system through a worker pool and returning
 * plain numbers for the results JSON. Server CPU is every server-side process plus Redis (from
 * /proc); generator CPU is the workers plus this process (the publisher).
 *
 * ctx: { pool, handle (adapter.start() result), system (adapter), cfg, redisPid, log(text) }
 */
import { execFileSync } from 'node:child_process';
import { Histogram } from './histogram.mjs';
import { share, shareStart } from './pool.mjs';
import { CpuMeter, rssBytes } from './procstat.mjs';
import { commandDelta, parseCommandStats } from './redis-stats.mjs';

const ms = (us) => Number((us / 1000).toFixed(3));
const round = (x, digits = 1) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);
const sleep = (t) => new Promise((r) => setTimeout(r, t));

/** Rejects when `promise` takes longer than `timeoutMs`. */
export function withTimeout(promise, timeoutMs, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${timeoutMs} ms`)), timeoutMs);
    }),
  ]);
}

function meter(ctx) {
  const procs = [
    ...ctx.handle.processes.map((p) => ({ label: `server:${p.role}`, pid: p.pid })),
    { label: 'server:redis', pid: ctx.redisPid },
    ...ctx.pool.pids().map((pid) => ({ label: 'generator', pid })),
  ];
  return new CpuMeter(procs).start();
}

/** Server and generator CPU of a meter reading: total µs and cores (CPU time / wall time). */
function cpuSummary(reading) {
  let serverUs = 0;
  const byRole = {};
  const usByRole = {};
  for (const [label, us] of Object.entries(reading.byLabel)) {
    if (!label.startsWith('server:')) continue;
    serverUs += us;
    byRole[label.slice(7)] = round(us / reading.wallUs, 3);
    usByRole[label.slice(7)] = us;
  }
  const genUs = (reading.byLabel.generator ?? 0) + reading.selfUs;
  // Whatever else ran on the machine meanwhile (a shared box): busy time not ours, and steal.
  const otherUs = Math.max(0, reading.busyUs - serverUs - genUs);
  const cores = (us) => round(us / reading.wallUs, 3);
  return { serverUs, genUs, serverCores: cores(serverUs), genCores: cores(genUs), otherCores: cores(otherUs), stealCores: cores(reading.stealUs), serverCoresByRole: byRole, serverUsByRole: usByRole };
}

function latency(hist) {
  return { p50Ms: ms(hist.quantile(0.5)), p99Ms: ms(hist.quantile(0.99)), maxMs: ms(hist.max) };
}

/** RSS of every server process after a forced GC, keyed by pid. */
export async function rssAfterGc(ctx) {
  await withTimeout(ctx.handle.gc(), 20_000, 'adapter.gc()');
  return Object.fromEntries(ctx.handle.processes.map((p) => [p.pid, rssBytes(p.pid)]));
}

/** Bytes of RSS growth per connection for each process role (summed over that role's processes). */
export function bytesPerConn(ctx, before, after, conns) {
  const out = {};
  for (const p of ctx.handle.processes) out[p.role] = (out[p.role] ?? 0) + (after[p.pid] - before[p.pid]);
  for (const role of Object.keys(out)) out[role] = Math.round(out[role] / conns);
  return out;
}

/**
 * Opens `count` connections (group, room) spread over `urls` round robin and over the workers,
 * each completing the system's auth step; returns connections/s and connect+auth latency.
 */
export async function connect(ctx, { group, count, room, urls, startIndex = 0, headers, clientPath, clientOptions, track, addrOctet }) {
  const { pool, cfg } = ctx;
  await pool.all(
    'prepare',
    (i) => ({
      group,
      room,
      urls,
      headers,
      clientPath,
      clientOptions,
      track,
      addrOctet,
      startIndex: startIndex + shareStart(count, pool.size, i),
      count: share(count, pool.size, i),
      timeoutMs: cfg.connectTimeoutMs,
    }),
    60_000,
  );
  const m = meter(ctx);
  const results = await pool.all('connect', { inflight: cfg.connectInflight }, cfg.connectPhaseTimeoutMs);
  const cpu = cpuSummary(m.stop());
  const hist = new Histogram();
  const failures = {};
  let connected = 0;
  let failed = 0;
  for (const r of results) {
    hist.add(r.hist);
    connected += r.connected;
    failed += r.failed;
    for (const [why, n] of Object.entries(r.failures)) failures[why] = (failures[why] ?? 0) + n;
  }
  const active = results.filter((r) => r.connected > 0);
  const spanNs = active.length ? Math.max(...active.map((r) => r.endNs)) - Math.min(...active.map((r) => r.startNs)) : NaN;
  return {
    requested: count,
    connected,
    failed,
    failures,
    seconds: round(spanNs / 1e9, 3),
    perSec: Math.round(connected / (spanNs / 1e9)),
    ...latency(hist),
    ...cpu,
  };
}

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

/** The median of the finite numbers in `xs` (null if none). */
export function median(xs) {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
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
async function warmUp(ctx, { group, room }) {
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

async function fanoutRun(ctx, { group, room, seqFrom, count, closedLoop }) {
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

/** Closed-loop ping → pong on `group` at each concurrency. */
export async function requestResponse(ctx, { group, concurrencies }) {
  const { pool, cfg } = ctx;
  const out = [];
  for (const c of concurrencies) {
    const m = meter(ctx);
    const results = await pool.all('ping', (i) => ({ group, concurrency: share(c, pool.size, i), durationMs: cfg.pingMs }), cfg.pingMs + 15_000);
    const cpu = cpuSummary(m.stop());
    const hist = new Histogram();
    let count = 0;
    let inWindow = 0;
    let lost = 0;
    let members = 0;
    let windowNs = 0;
    for (const r of results) {
      hist.add(r.hist);
      count += r.count;
      inWindow += r.inWindow;
      lost += r.lost;
      members += r.members;
      windowNs = Math.max(windowNs, r.windowNs);
    }
    out.push({
      concurrency: c,
      sockets: members,
      perSec: Math.round(inWindow / (windowNs / 1e9)),
      ...latency(hist),
      lost,
      cpuUsPerRt: round(cpu.serverUs / count, 3),
      ...cpu,
    });
    ctx.log(`    c=${c}: ${out.at(-1).perSec} rt/s p50 ${out.at(-1).p50Ms} ms p99 ${out.at(-1).p99Ms} ms, ${out.at(-1).cpuUsPerRt} µs CPU/rt`);
  }
  return out;
}

/** TCP states of the sockets on a local port, counted (`ss`), for diagnosing a port held after a kill. */
function socketStates(port) {
  try {
    const lines = execFileSync('ss', ['-tanH', `( sport = :${port} )`], { encoding: 'utf8', timeout: 2000 }).trim().split('\n');
    const counts = {};
    for (const l of lines.filter(Boolean)) counts[l.split(/\s+/)[0]] = (counts[l.split(/\s+/)[0]] ?? 0) + 1;
    return JSON.stringify(counts);
  } catch (err) {
    return `ss failed: ${err.message}`;
  }
}

/** Calls (or µs) per Redis command so far (INFO commandstats), or null without a Redis connection. */
async function redisCommands(ctx, field = 'calls') {
  if (!ctx.redis) return null;
  return parseCommandStats(await withTimeout(ctx.redis.info('commandstats'), 5000, 'INFO commandstats'), field);
}
const redisUsec = (ctx) => redisCommands(ctx, 'usec');

/**
 * Reconnect storm: `count` clients on urls[0], the process behind it restarted; time until every
 * client is welcomed again (full-jitter back-off in the workers) and how many attempts failed.
 */
export function storm(ctx, { count, room, addrOctet }) {
  return restartStorm(ctx, { group: 'storm', count, room, addrOctet, missed: 0 });
}

/**
 * Recovery storm (gateway): as `storm`, but each client follows its room stream's position, and
 * while the balancer is down `missed` publications go to the room (one more client on urls[1]
 * keeps the room loaded, as other members of a room on other balancers do); the clients come
 * back with `since` in their auth frame and count as recovered once they hold the last of them.
 * Besides the times: what was replayed, duplicates, gaps, `recovered: false`, and the Redis
 * commands the recovery cost per client.
 */
export async function recoveryStorm(ctx, { count, room, addrOctet, missed }) {
  const anchor = ctx.handle.urls[1];
  if (anchor) {
    const a = await connect(ctx, { group: 'rstorm-anchor', count: 1, startIndex: count, room, urls: [anchor], addrOctet });
    if (a.connected !== 1) throw new Error(`recovery storm: the anchor client did not connect (${JSON.stringify(a.failures)})`);
  }
  try {
    return await restartStorm(ctx, { group: 'rstorm', count, room, addrOctet, missed });
  } finally {
    await ctx.pool.all('close', { group: 'rstorm-anchor' }, 30_000);
  }
}

async function restartStorm(ctx, { group, count, room, addrOctet, missed }) {
  const { pool, handle, cfg, system } = ctx;
  const track = missed > 0;
  const connected = await connect(ctx, { group, count, room, urls: [handle.urls[0]], startIndex: 0, addrOctet, track });
  ctx.log(`    ${connected.connected} ${group} clients on ${handle.urls[0]}${connected.failed ? ` (${connected.failed} failed attempts: ${JSON.stringify(connected.failures)})` : ''}`);
  // Every client holds the room's latest position before the restart (a fence publication all
  // of them have), so each misses exactly `missed`: a client still behind would miss more than
  // the history keeps and be told `recovered: false` for a reason of the bench's own.
  let behindAtRestart = 0;
  if (track) {
    await warmUp(ctx, { group, room });
    const fence = await withTimeout(handle.publish(room, system.payload(-1, process.hrtime.bigint())), 5000, 'fence publish');
    const deadline = Date.now() + 30_000;
    for (;;) {
      const all = await pool.all('holding', { group, ...fence }, 10_000);
      behindAtRestart = all.reduce((n, r) => n + r.members - r.holding, 0);
      if (behindAtRestart === 0 || Date.now() > deadline) break;
      await sleep(100);
    }
    if (behindAtRestart > 0) ctx.log(`    ${behindAtRestart} ${group} clients still behind the fence publication after 30 s`);
  }
  const role = handle.processes.find((p) => p.role === 'balancer')?.role ?? handle.processes[0].role;
  await pool.all('storm', { group, base: cfg.stormBaseMs, cap: cfg.stormCapMs, timeoutMs: cfg.connectTimeoutMs }, 10_000);
  let redis0 = await redisCommands(ctx);
  const t0 = Number(process.hrtime.bigint());
  let t1 = t0;
  let target = null;
  const whileDown = async () => {
    for (let i = 0; i < missed; i++) target = await withTimeout(handle.publish(room, system.payload(-1, process.hrtime.bigint())), 5000, 'publish while down');
    if (target) await pool.all('stormTarget', target, 10_000);
    // The commands of the reconnects only, not of the publications.
    redis0 = await redisCommands(ctx);
    t1 = Number(process.hrtime.bigint());
  };
  // The adapters retry binding the port for up to 75 s (INTERFACE.md, Changes): a slow rebind is
  // a result (restartMs), not a failure. What holds the port is logged meanwhile.
  const port = new URL(handle.urls[0]).port;
  const watch = setInterval(() => ctx.log(`    restart pending; sockets on :${port}: ${socketStates(port)}`), 5000);
  try {
    await withTimeout(handle.restart(role, { whileDown }), 90_000, `adapter.restart('${role}')`);
  } finally {
    clearInterval(watch);
  }
  if (track && target === null) throw new Error(`recovery storm: adapter.restart('${role}') did not call whileDown`);
  const tReady = Number(process.hrtime.bigint());
  const restartMs = (tReady - t0) / 1e6;
  const deadline = Date.now() + cfg.stormTimeoutMs;
  const sum = (all) => {
    const out = {};
    for (const r of all) {
      for (const [k, v] of Object.entries(r)) {
        if (k === 'failures' || k === 'droppedAgain') for (const [why, n] of Object.entries(v)) (out[k] ??= {})[why] = (out[k][why] ?? 0) + n;
        else if (k.endsWith('Hist')) (out[k] ??= new Histogram()).add(v);
        else out[k] = k.endsWith('Ns') ? Math.max(out[k] ?? 0, v) : (out[k] ?? 0) + v;
      }
    }
    return out;
  };
  let status;
  const done = (st) => st.dropped >= connected.connected && st.down === 0 && (!track || st.recovered >= st.dropped);
  for (;;) {
    status = sum(await pool.all('stormStatus', {}, 10_000));
    if (done(status)) break;
    if (Date.now() > deadline) break;
    // A restart that dropped nobody restarted another process than the one behind urls[0].
    if (status.dropped === 0 && (Number(process.hrtime.bigint()) - t0) / 1e6 > restartMs + 5000) break;
    await sleep(100);
  }
  const redis1 = await redisCommands(ctx);
  const allBack = status.dropped >= connected.connected && status.down === 0;
  const allRecovered = track ? done(status) : null;
  const lastNs = track ? status.lastRecoveredNs : status.lastWelcomeNs;
  const commands = redis0 && redis1 ? commandDelta(redis0, redis1) : null;
  const perClient = (n) => round(n / Math.max(1, status.dropped), 3);
  return {
    role,
    clients: connected.connected,
    connectFailures: connected.failures,
    dropped: status.dropped,
    stillDown: status.down,
    allBack,
    restartMs: round(restartMs, 0),
    downMs: round((t1 - t0) / 1e6, 0),
    secondsToAllBack: allBack ? round((status.lastWelcomeNs - t0) / 1e9, 3) : null,
    attempts: status.attempts,
    failedAttempts: status.failed,
    failures: status.failures ?? {},
    // Clients dropped again after they were back, by close code (a storm that does not settle).
    droppedAgain: status.droppedAgain ?? {},
    // Per client, from the start of its successful attempt to its welcome (and to holding the
    // last missed publication): the server's share of the storm, without the back-off waits.
    welcome: latency(status.welcomeHist ?? new Histogram()),
    // From the restart of the process (after the kill and what ran while it was down) to the last
    // client back (plain) or recovered (recovery storm): the figure the two storms compare.
    secondsFromRestart: (track ? allRecovered : allBack) ? round((lastNs - t1) / 1e9, 3) : null,
    // From the restarted process being ready (restart() resolved) to the same last client: what
    // the two storms compare, without the restart itself (a port held after the kill can keep
    // it from binding for up to a minute: INTERFACE.md, Changes).
    secondsFromReady: (track ? allRecovered : allBack) ? round((lastNs - tReady) / 1e9, 3) : null,
    redisCommands: commands && { total: commands.total, perClient: perClient(commands.total), byCommand: commands.byCommand },
    ...(track
      ? {
          missed,
          behindAtRestart,
          target,
          allRecovered,
          recovered: status.recovered,
          secondsToAllRecovered: allRecovered ? round((status.lastRecoveredNs - t0) / 1e9, 3) : null,
          replayedPerClient: perClient(status.replayed),
          toRecovered: latency(status.recoveredHist ?? new Histogram()),
          told: status.told,
          dups: status.dups,
          gaps: status.gaps,
          epochs: status.epochs,
        }
      : {}),
  };
}
