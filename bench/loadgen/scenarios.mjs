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
  for (const [label, us] of Object.entries(reading.byLabel)) {
    if (!label.startsWith('server:')) continue;
    serverUs += us;
    byRole[label.slice(7)] = round(us / reading.wallUs, 3);
  }
  const genUs = (reading.byLabel.generator ?? 0) + reading.selfUs;
  // Whatever else ran on the machine meanwhile (a shared box): busy time not ours, and steal.
  const otherUs = Math.max(0, reading.busyUs - serverUs - genUs);
  const cores = (us) => round(us / reading.wallUs, 3);
  return { serverUs, genUs, serverCores: cores(serverUs), genCores: cores(genUs), otherCores: cores(otherUs), stealCores: cores(reading.stealUs), serverCoresByRole: byRole };
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
export async function connect(ctx, { group, count, room, urls, startIndex = 0, headers, clientPath, addrOctet }) {
  const { pool, cfg } = ctx;
  await pool.all(
    'prepare',
    (i) => ({
      group,
      room,
      urls,
      headers,
      clientPath,
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
  return { subscribers: closed.subscribers, closed, burst };
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
  const m = meter(ctx);
  const t0 = Number(process.hrtime.bigint());
  let published = 0;
  let stalled = false;
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
      published = count;
      stalled = !(await Promise.race([allDone.then(() => true), sleep(cfg.fanoutBurstTimeoutMs).then(() => false)]));
    }
  } finally {
    off();
  }
  const cpu = cpuSummary(m.stop());
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
  return {
    subscribers,
    published,
    expected: published * subscribers,
    delivered,
    stalled,
    seconds: round(seconds, 3),
    perSec: Math.round(delivered / seconds),
    ...latency(hist),
    cpuUsPerDelivery: round(cpu.serverUs / delivered, 3),
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

/**
 * Reconnect storm: `count` clients on urls[0], the process behind it restarted; time until every
 * client is welcomed again (full-jitter back-off in the workers) and how many attempts failed.
 */
export async function storm(ctx, { count, room, addrOctet }) {
  const { pool, handle, cfg } = ctx;
  const connected = await connect(ctx, { group: 'storm', count, room, urls: [handle.urls[0]], startIndex: 0, addrOctet });
  ctx.log(`    ${connected.connected} storm clients on ${handle.urls[0]}${connected.failed ? ` (${connected.failed} failed attempts: ${JSON.stringify(connected.failures)})` : ''}`);
  const role = handle.processes.find((p) => p.role === 'balancer')?.role ?? handle.processes[0].role;
  await pool.all('storm', { group: 'storm', base: cfg.stormBaseMs, cap: cfg.stormCapMs, timeoutMs: cfg.connectTimeoutMs }, 10_000);
  const t0 = Number(process.hrtime.bigint());
  // The adapters retry binding the port for up to 75 s (INTERFACE.md, Changes): a slow rebind is
  // a result (restartMs), not a failure. What holds the port is logged meanwhile.
  const port = new URL(handle.urls[0]).port;
  const watch = setInterval(() => ctx.log(`    restart pending; sockets on :${port}: ${socketStates(port)}`), 5000);
  try {
    await withTimeout(handle.restart(role), 90_000, `adapter.restart('${role}')`);
  } finally {
    clearInterval(watch);
  }
  const restartMs = (Number(process.hrtime.bigint()) - t0) / 1e6;
  const deadline = Date.now() + cfg.stormTimeoutMs;
  let status;
  for (;;) {
    const all = await pool.all('stormStatus', {}, 10_000);
    status = all.reduce(
      (s, r) => ({ dropped: s.dropped + r.dropped, down: s.down + r.down, attempts: s.attempts + r.attempts, failed: s.failed + r.failed, lastWelcomeNs: Math.max(s.lastWelcomeNs, r.lastWelcomeNs) }),
      { dropped: 0, down: 0, attempts: 0, failed: 0, lastWelcomeNs: 0 },
    );
    if (status.dropped >= connected.connected && status.down === 0) break;
    if (Date.now() > deadline) break;
    // A restart that dropped nobody restarted another process than the one behind urls[0].
    if (status.dropped === 0 && (Number(process.hrtime.bigint()) - t0) / 1e6 > restartMs + 5000) break;
    await sleep(100);
  }
  const allBack = status.dropped >= connected.connected && status.down === 0;
  return {
    role,
    clients: connected.connected,
    connectFailures: connected.failures,
    dropped: status.dropped,
    stillDown: status.down,
    allBack,
    restartMs: round(restartMs, 0),
    secondsToAllBack: allBack ? round((status.lastWelcomeNs - t0) / 1e9, 3) : null,
    attempts: status.attempts,
    failedAttempts: status.failed,
  };
}
