/**
 * One load-generator process of bench/delivery-failover.mjs (forked by loadgen/pool.mjs): a few
 * thousand log spectators (spectator.mjs), each on its own raw RFC 6455 socket; the report
 * compares what each received with the publisher's acknowledgements (accounting.mjs).
 * Commands (IPC, as pool.mjs speaks):
 *
 *   init    { jwtSecret, index }                                  → {}
 *   prepare { startIndex, count, urls, guilds, addrOctet }         → { prepared }
 *   connect { inflight }          → { connected, failed, failures, byMonolith }
 *   status  { tops: {"<stream>": {offset, epoch}} }  → counts: holding the tops, by monolith, resyncs, ...
 *   report  { acks: {"<guild>": {epoch, offsets, ackMs}}, faultMs } → { clients: [...] } per-client outcomes
 *   close   {}                                                      → { closed }
 *
 * Times are process.hrtime (CLOCK_MONOTONIC) in ms: comparable with the orchestrator's.
 */
import { Permission } from '@gateway/protocol';
import { mintToken } from '@gateway/server-kit';
import { localAddress } from '../loadgen/addresses.mjs';
import { serveCommands } from '../loadgen/worker-ipc.mjs';
import { outcome, ranges } from './accounting.mjs';
import { Spectator } from './spectator.mjs';

let jwtSecret;
let workerIndex = 0;
/** @type {Spectator[]} */
let clients = [];

async function signToken(sub, guild) {
  return mintToken({ sub, name: sub, guilds: { [guild]: Permission.VIEW_PUBLIC_LOGS | Permission.VIEW_PRIVATE_LOGS } }, { secret: jwtSecret, ttlSeconds: 2 * 3600 });
}

let prepared = [];

const commands = {
  init({ jwtSecret: secret, index }) {
    jwtSecret = secret;
    workerIndex = index;
    return {};
  },

  async prepare({ startIndex, count, urls, guilds, addrOctet, tag }) {
    prepared = [];
    for (let k = 0; k < count; k++) {
      const i = startIndex + k;
      const guild = guilds[i % guilds.length];
      const sub = `${tag}-s${i}`;
      const own = i % urls.length;
      prepared.push(new Spectator(i, await signToken(sub, guild), sub, guild, [...urls.slice(own), ...urls.slice(0, own)], localAddress(addrOctet, i)));
    }
    return { prepared: prepared.length };
  },

  async connect({ inflight }) {
    const list = prepared;
    prepared = [];
    let next = 0;
    let connected = 0;
    const failures = {};
    const lane = async () => {
      while (next < list.length) {
        const c = list[next++];
        clients.push(c);
        try {
          await c.enqueue(() => c.connect('start'));
          if (c.log) connected++;
          else failures[c.errors.at(-1) ?? 'no spectate'] = (failures[c.errors.at(-1) ?? 'no spectate'] ?? 0) + 1;
        } catch (err) {
          failures[err.message] = (failures[err.message] ?? 0) + 1;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(inflight, list.length) }, lane));
    return { connected, failed: list.length - connected, failures, byMonolith: countBy(clients, (c) => c.monolith) };
  },

  status({ tops }) {
    let holding = 0;
    let busy = 0;
    const lagging = [];
    for (const c of clients) {
      const top = tops[c.logsStream];
      const held = c.positions.get(c.logsStream);
      const ok = !top || (held && held.epoch === top.epoch && held.offset >= top.offset);
      if (ok) holding++;
      else if (lagging.length < 3) lagging.push({ i: c.index, held, top, monolith: c.monolith, open: c.ws !== null, busy: c.busy, errors: c.errors.slice(-2) });
      if (c.busy > 0) busy++;
    }
    return {
      clients: clients.length,
      holding,
      busy,
      lagging,
      byMonolith: countBy(clients, (c) => c.monolith),
      resyncs: sum(clients, (c) => c.resyncs),
      resynced: sum(clients, (c) => c.resynced),
      reconnects: sum(clients, (c) => c.reconnects),
      closes: countBy(clients.flatMap((c) => c.closes), (code) => String(code)),
      errors: sum(clients, (c) => c.errors.length),
      errorSamples: clients.flatMap((c) => c.errors.map((e) => `c${c.index}: ${e}`)).slice(0, 5),
    };
  },

  report({ acks, faultMs }) {
    const out = [];
    for (const c of clients) {
      const a = acks[c.guild] ?? { epoch: '', offsets: [], ackMs: [] };
      const after = c.recoveries.filter((r) => r.ms > faultMs);
      const last = after.at(-1);
      const r = c.log ? outcome(c.log, a, last?.ms) : { lost: a.offsets, dups: 0, unacked: 0, told: 0, recoveredMs: null };
      out.push({
        i: c.index,
        worker: workerIndex,
        guild: c.guild,
        monolith0: c.firstMonolith,
        monolith: c.monolith,
        start: c.log?.start ?? null,
        lost: r.lost.length,
        lostRanges: r.lost.length ? ranges(r.lost).slice(0, 200) : '',
        dups: r.dups,
        unacked: r.unacked,
        told: r.told,
        toldSession: c.toldSession,
        epochChanges: c.log?.epochChanges ?? 0,
        early: c.early,
        recoveries: after.map((x) => x.how),
        recoveredAfterFaultMs: r.recoveredMs === undefined ? undefined : r.recoveredMs === null ? null : Number((r.recoveredMs - faultMs).toFixed(1)),
        // The protocol steps after the fault, ms from it: welcome (re-join), resync, recover reply, spectate reply.
        steps: after.length
          ? {
              welcome: since(c.times.welcome, faultMs),
              resync: since(c.times.resync, faultMs),
              recover: since(c.times.recover, faultMs),
              close: since(c.times.close, faultMs),
              spectate: Number((last.ms - faultMs).toFixed(1)),
            }
          : undefined,
        welcomes: c.welcomes,
        resyncs: c.resyncs,
        closes: c.closes,
        errors: c.errors.slice(0, 3),
      });
    }
    return { clients: out };
  },

  close() {
    for (const c of clients) {
      c.stopped = true;
      const ws = c.ws;
      c.ws = null;
      ws?.destroy();
    }
    const closed = clients.length;
    clients = [];
    return { closed };
  },
};

/** The first time in `times` after `from`, in ms from it (undefined if none). */
function since(times, from) {
  const t = times.find((x) => x > from);
  return t === undefined ? undefined : Number((t - from).toFixed(1));
}

function countBy(list, key) {
  const out = {};
  for (const x of list) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

function sum(list, f) {
  let n = 0;
  for (const x of list) n += f(x);
  return n;
}

serveCommands(commands);
