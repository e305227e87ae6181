/**
 * What a load-generator worker (worker.mjs) counts of the deliveries its clients receive: the
 * fan-out (per armed seq, latency from the payload's timestamp) and the reconnect storm (drops,
 * attempts, and for tracked clients recovery: duplicates, gaps, epoch changes, `recovered: false`).
 * No sockets here: the connections (worker-conn.mjs) report into it.
 */
import { nowNs as now } from './clock.mjs';
import { Histogram } from './histogram.mjs';
import { replyPositions, step } from './positions.mjs';

/** Fan-out accounting, armed by `fanout`. */
export const fan = { from: 0, to: 0, closedLoop: false, perSeq: 0, counts: new Int32Array(0), delivered: 0, hist: new Histogram(), firstNs: 0, lastNs: 0, done: false };
/** Reconnect storm accounting, armed by `storm`. */
export const storm = { armed: false, group: '', base: 100, cap: 5000, timeoutMs: 10_000, dropped: 0, down: 0, attempts: 0, failed: 0, lastWelcomeNs: 0, ...recoveryCounts() };

/** Recovery accounting of a storm over tracked clients (`stormTarget`, `stormStatus`). */
export function recoveryCounts() {
  // welcomeHist / recoveredHist: from the start of a client's successful attempt (open) to its
  // welcome / to holding the target: the server's part of a storm, without the back-off waits.
  return { target: null, recovered: 0, lastRecoveredNs: 0, told: 0, dups: 0, gaps: 0, epochs: 0, replayed: 0, failures: {}, droppedAgain: {}, welcomeHist: new Histogram(), recoveredHist: new Histogram() };
}

/** A tracked client's welcome: its start position, or whether its `since` was recovered. */
export function onWelcomePositions(conn, text) {
  const { positions, recovered } = replyPositions(text);
  const stream = conn.pos?.stream ?? Object.keys(positions)[0];
  if (stream === undefined) return;
  if (recovered[stream] === false) {
    countStorm(conn, 'told');
    conn.pos = undefined; // reload: start again where the welcome says
  }
  if (conn.pos === undefined && positions[stream]) conn.pos = { stream, ...positions[stream] };
  checkRecovered(conn);
}

export function onPosition(conn, pos) {
  if (pos === undefined) return;
  const held = conn.pos?.stream === pos.stream ? conn.pos : undefined;
  const s = step(held, pos);
  if (s.kind === 'dup') return countStorm(conn, 'dups');
  if (s.kind === 'gap') countStorm(conn, 'gaps', s.missing);
  if (s.kind === 'epoch') countStorm(conn, 'epochs');
  conn.pos = pos;
  if (storm.target !== null && conn.everDropped && !conn.recovered) {
    storm.replayed++;
    checkRecovered(conn);
  }
}

function countStorm(conn, key, n = 1) {
  if (storm.armed && conn.group === storm.group) storm[key] += n;
}

/** A dropped storm client is recovered once it is welcomed again and holds the target position. */
export function checkRecovered(conn) {
  const t = storm.target;
  if (t === null || conn.recovered || !conn.everDropped || conn.group !== storm.group || !conn.pos) return;
  if (conn.pos.epoch !== t.epoch || conn.pos.offset < t.offset) return;
  conn.recovered = true;
  storm.recovered++;
  storm.lastRecoveredNs = now();
  storm.recoveredHist.record((storm.lastRecoveredNs - conn.attemptNs) / 1000);
}

export function onDelivery(c) {
  const seq = Number(c.seq);
  if (seq < fan.from || seq >= fan.to) return;
  const t = now();
  fan.hist.record((t - Number(c.t)) / 1000);
  if (fan.firstNs === 0) fan.firstNs = t;
  fan.lastNs = t;
  fan.delivered++;
  const n = ++fan.counts[seq - fan.from];
  if (fan.closedLoop && n === fan.perSeq) process.send({ ev: 'seq', seq });
  if (!fan.done && fan.delivered === fan.perSeq * (fan.to - fan.from)) {
    fan.done = true;
    process.send({ ev: 'fanout-done' });
  }
}
