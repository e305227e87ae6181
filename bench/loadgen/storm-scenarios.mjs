/** The storm scenarios: a restart of the process behind urls[0] under load, plain and with recovery (scenarios.mjs). */
import { execFileSync } from 'node:child_process';
import { connect } from './connect-scenario.mjs';
import { warmUp } from './fanout-scenarios.mjs';
import { Histogram } from './histogram.mjs';
import { latency, redisCommands, round, sleep, withTimeout } from './measure.mjs';
import { commandDelta } from './redis-stats.mjs';

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
