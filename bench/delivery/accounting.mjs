/**
 * Delivery accounting of one client's stream for bench/delivery-failover.mjs: what the client
 * received (first arrival time per offset, duplicates, what it was told to reload), compared
 * afterwards with what the publisher had acknowledged. Pure: no sockets, no clocks.
 *
 * Lost = an acknowledged offset after the client's start position that it never received and
 * that no `recovered: false` covered. Recovered = after a recovery (the spectate reply that
 * followed a resync or a reconnect), the moment it held every publication acknowledged before
 * that reply: the reply's replay is then complete.
 */

/** One stream as one client saw it, from the position its first spectate reply gave. */
export class StreamLog {
  /** @param {{ offset: number, epoch: string }} start */
  constructor(start) {
    this.start = start.offset;
    this.epoch = start.epoch;
    /** Arrival time (ms) of offset start + 1 + i; NaN until it arrives. */
    this.arrivals = new Float64Array(256).fill(NaN);
    this.dups = 0;
    this.epochChanges = 0;
    /** Offset ranges [from, to] the client was told it cannot recover (`recovered: false`). */
    this.told = [];
    /** The position held: the highest offset received (or reloaded to). */
    this.held = start.offset;
  }

  /** A positioned push of this stream arrived at `t` (ms). */
  push(offset, epoch, t) {
    if (epoch !== this.epoch) {
      // History lost (a new epoch): not expected here, counted and reported, never merged.
      this.epochChanges++;
      return;
    }
    const i = offset - this.start - 1;
    if (i < 0) return; // before the start position: not this client's to receive
    if (i >= this.arrivals.length) {
      const grown = new Float64Array(Math.max(i + 1, this.arrivals.length * 2)).fill(NaN);
      grown.set(this.arrivals);
      this.arrivals = grown;
    }
    if (Number.isNaN(this.arrivals[i])) this.arrivals[i] = t;
    else this.dups++;
    if (offset > this.held) this.held = offset;
  }

  /** `recovered: false` with the stream's current position: what lies between is not owed. */
  reload(position) {
    if (position.epoch !== this.epoch) {
      this.epochChanges++;
      return;
    }
    if (position.offset > this.held) this.told.push([this.held + 1, position.offset]);
    this.held = Math.max(this.held, position.offset);
  }

  arrival(offset) {
    const i = offset - this.start - 1;
    return i >= 0 && i < this.arrivals.length ? this.arrivals[i] : NaN;
  }

  isTold(offset) {
    return this.told.some(([a, b]) => offset >= a && offset <= b);
  }
}

/**
 * One client's outcome against the acknowledgements of its stream (`offsets` ascending, `ackMs`
 * the time each 2xx came back, all under `epoch`).
 * @param {StreamLog} log
 * @param {{ epoch: string, offsets: number[], ackMs: number[] }} acks
 * @param {number | undefined} recoveryReplyMs the spectate reply of its last recovery after the fault, if it had one
 * @returns {{ lost: number[], dups: number, unacked: number, told: number, recoveredMs: number | null | undefined }}
 *   recoveredMs: undefined when the client had no recovery, null when it never held what was owed
 */
export function outcome(log, acks, recoveryReplyMs) {
  const lost = [];
  const owedBefore = [];
  const acked = new Set();
  const sameEpoch = acks.epoch === log.epoch;
  for (let k = 0; k < acks.offsets.length; k++) {
    const o = acks.offsets[k];
    acked.add(o);
    if (o <= log.start || log.isTold(o)) continue;
    const t = sameEpoch ? log.arrival(o) : NaN;
    if (Number.isNaN(t)) lost.push(o);
    if (recoveryReplyMs !== undefined && acks.ackMs[k] <= recoveryReplyMs) owedBefore.push(t);
  }
  let unacked = 0;
  for (let i = 0; i < log.arrivals.length; i++) if (!Number.isNaN(log.arrivals[i]) && !acked.has(log.start + 1 + i)) unacked++;
  let recoveredMs;
  if (recoveryReplyMs !== undefined) {
    recoveredMs = owedBefore.some(Number.isNaN) ? null : Math.max(recoveryReplyMs, ...owedBefore);
  }
  const told = log.told.reduce((n, [a, b]) => n + b - a + 1, 0);
  return { lost, dups: log.dups, unacked, told, recoveredMs };
}

/** `1-5,7,9-10` for a sorted list of offsets. */
export function ranges(sorted) {
  const out = [];
  for (let i = 0; i < sorted.length; i++) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j;
  }
  return out.join(',');
}
