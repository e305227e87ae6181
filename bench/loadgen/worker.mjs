/**
 * One load-generator process (forked by pool.mjs), holding up to a few thousand client sockets of
 * one system under test and driving them on command over IPC. Commands and their replies:
 *
 *   init     { systemPath, jwtSecret, index }                        → {}
 *   prepare  { group, startIndex, count, urls, room, rooms?, clientPath?, headers?, clientOptions?, track?, addrOctet, timeoutMs }
 *            (rooms: N spreads the clients over rooms `<room>-0` … `<room>-<N-1>`, by global index mod N)
 *   connect  { inflight, rate? }              → { connected, failed, failures, startNs, endNs, hist }
 *   fanout   { seqFrom, seqTo, closedLoop }   arms delivery counting for seqs in [from, to)
 *   fanoutReport {}                           → { delivered, expected, hist, firstNs, lastNs }
 *   ping     { group, concurrency, durationMs } → { count, inWindow, hist, windowNs }
 *   storm    { group, base, cap, timeoutMs }   arms reconnect-with-back-off on close
 *   holding  { group, offset, epoch }         → { members, holding }: tracked members holding the position
 *   stormTarget { offset, epoch }             a storm client is recovered once it holds this position
 *   stormStatus {}                            → { dropped, down, attempts, failed, failures, droppedAgain, lastWelcomeNs,
 *                                                 recovered, lastRecoveredNs, told, dups, gaps, epochs, replayed,
 *                                                 welcomeHist, recoveredHist }
 *   status   {}                               → { groups: { name: { open, welcomed } }, unexpectedCloses }
 *   close    { group }                        → { closed }
 *
 * Events sent without a request: { ev: 'seq', seq } when every fan-out member of this worker got
 * message seq (closed loop), { ev: 'fanout-done' } when all armed seqs arrived everywhere here.
 * Timestamps are process.hrtime.bigint() as Numbers (ns): comparable across processes.
 *
 * A group prepared with `track: true` follows its session stream's position (positions.mjs):
 * from the welcome's `positions`, then from every positioned push, counting duplicates, gaps
 * and epoch changes; it reconnects with `since` (the adapter client's `hello(token, room,
 * since)`), and a `recovered: false` in a later welcome counts as `told`.
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { fullJitter } from '@gateway/protocol';
import { mintToken } from '@gateway/server-kit';
import { localAddress } from './addresses.mjs';
import { nowNs as now } from './clock.mjs';
import { Histogram } from './histogram.mjs';
import { checkRecovered, fan, recoveryCounts, storm } from './worker-accounting.mjs';
import { Conn, connectOne, unexpectedCloses } from './worker-conn.mjs';
import { serveCommands } from './worker-ipc.mjs';

const CONNECT_ATTEMPTS = 8;

let mod; // the system adapter module
let jwtSecret;
/** @type {Map<string, Conn[]>} */
const groups = new Map();
/** @type {Conn[]} clients built by `prepare`, opened by the next `connect` */
let prepared = [];

async function signTokens(startIndex, count) {
  const tokens = new Array(count);
  for (let k = 0; k < count; k++) {
    tokens[k] = await mintToken({ sub: `bench-${startIndex + k}`, name: `bench ${startIndex + k}` }, { secret: jwtSecret, ttlSeconds: 4 * 3600 });
  }
  return tokens;
}

function resolveClient(clientPath) {
  let obj = mod;
  for (const key of clientPath) obj = obj?.[key];
  if (!obj || typeof obj.classify !== 'function') throw new Error(`no client at ${clientPath.join('.')}`);
  return obj;
}

const commands = {
  async init({ systemPath, jwtSecret: secret }) {
    mod = await import(pathToFileURL(systemPath).href);
    jwtSecret = secret;
    return {};
  },

  /** Builds the clients of a connect (and signs their tokens) outside the timed part. */
  async prepare(a) {
    const client = resolveClient(a.clientPath ?? ['default', 'client']);
    const tokens = await signTokens(a.startIndex, a.count);
    prepared = [];
    for (let k = 0; k < a.count; k++) {
      const index = a.startIndex + k;
      const url = new URL(a.urls[index % a.urls.length]);
      const headers = { ...a.headers };
      // A link nonce must differ per connection; every other header is passed as given.
      if ('x-link-nonce' in headers) headers['x-link-nonce'] = randomBytes(12).toString('hex');
      const target = { host: url.hostname, port: Number(url.port), path: url.pathname + url.search, headers, localAddress: localAddress(a.addrOctet, index), timeoutMs: a.timeoutMs };
      const room = a.rooms ? `${a.room}-${index % a.rooms}` : a.room;
      prepared.push(new Conn(index, a.group, target, tokens[k], room, client, a.clientOptions ?? {}, a.track === true));
    }
    return { prepared: prepared.length };
  },

  /** Opens the prepared clients, `inflight` at a time (optionally at `rate` per second). */
  async connect(a) {
    const conns = prepared;
    prepared = [];
    const group = conns[0]?.group;
    const list = groups.get(group) ?? [];
    if (group !== undefined) groups.set(group, list);
    const hist = new Histogram();
    const failures = {};
    let connected = 0;
    let failed = 0;
    let next = 0;
    const gapNs = a.rate ? 1e9 / a.rate : 0;
    const startNs = now();
    let endNs = startNs;
    const lane = async () => {
      while (next < conns.length) {
        const conn = conns[next++];
        if (gapNs > 0) {
          const due = startNs + (next - 1) * gapNs;
          const wait = (due - now()) / 1e6;
          if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        }
        // A refused attempt (a server's admission limit, a full backlog) is retried with the
        // storm's full-jitter back-off: the connect figure counts the failures, and the scenarios
        // after it need the connections.
        for (let attempt = 0; attempt < CONNECT_ATTEMPTS; attempt++) {
          const t0 = now();
          const ok = await connectOne(conn, conn.target.timeoutMs);
          if (ok === true) {
            endNs = now();
            hist.record((endNs - t0) / 1000);
            connected++;
            list.push(conn);
            break;
          }
          failed++;
          failures[ok] = (failures[ok] ?? 0) + 1;
          await new Promise((r) => setTimeout(r, fullJitter(attempt, 100, 2000)));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(a.inflight, conns.length) }, lane));
    return { connected, failed, failures, startNs, endNs, hist: hist.toJSON() };
  },

  fanout({ seqFrom, seqTo, closedLoop, group }) {
    const members = (groups.get(group) ?? []).filter((c) => c.welcomed).length;
    Object.assign(fan, { from: seqFrom, to: seqTo, closedLoop, perSeq: members, counts: new Int32Array(seqTo - seqFrom), delivered: 0, hist: new Histogram(), firstNs: 0, lastNs: 0, done: members === 0 });
    if (fan.done) process.send({ ev: 'fanout-done' });
    return { members };
  },

  fanoutReport() {
    const expected = fan.perSeq * (fan.to - fan.from);
    const report = { delivered: fan.delivered, expected, hist: fan.hist.toJSON(), firstNs: fan.firstNs, lastNs: fan.lastNs };
    fan.from = fan.to = 0; // later stragglers are ignored
    return report;
  },

  async ping({ group, concurrency, durationMs }) {
    // By index, not by the order they were welcomed in: consecutive indices alternate over the
    // system's urls (prepare), so every system gets the same spread of the pinging sockets over
    // its processes (the welcome order put all of them on one process in some runs).
    const members = (groups.get(group) ?? []).filter((c) => c.welcomed).sort((a, b) => a.index - b.index).slice(0, concurrency);
    const hist = new Histogram();
    let count = 0;
    let inWindow = 0;
    let running = true;
    let outstanding = 0;
    let nextId = 1;
    let drained = null;
    const startNs = now();
    const send = (conn) => {
      const id = nextId++;
      conn.pingId = id;
      conn.pingAt = now();
      outstanding++;
      // token and room: a direct link socket's envelope carries them (INTERFACE.md, Changes).
      conn.ws.sendText(conn.client.ping(id, conn.token, conn.room));
    };
    for (const conn of members) {
      conn.onPong = (id) => {
        // Ids may come back as strings; only the current request of this socket counts.
        if (id != conn.pingId) return; // eslint-disable-line eqeqeq
        const t = now();
        outstanding--;
        hist.record((t - conn.pingAt) / 1000);
        count++;
        if (running) {
          inWindow++;
          if (conn.ws) send(conn);
        } else if (outstanding === 0 && drained) drained();
      };
    }
    for (const conn of members) send(conn);
    await new Promise((r) => setTimeout(r, durationMs));
    running = false;
    const windowNs = now() - startNs;
    if (outstanding > 0) await new Promise((r) => ((drained = r), setTimeout(r, 3000)));
    for (const conn of members) conn.onPong = null;
    return { members: members.length, count, inWindow, lost: outstanding, windowNs, hist: hist.toJSON() };
  },

  storm({ group, base, cap, timeoutMs }) {
    Object.assign(storm, { armed: true, group, base, cap, timeoutMs, dropped: 0, down: 0, attempts: 0, failed: 0, lastWelcomeNs: 0, ...recoveryCounts() });
    for (const c of groups.get(group) ?? []) {
      c.everDropped = false;
      c.recovered = false;
    }
    return { members: (groups.get(group) ?? []).length };
  },

  /** How many welcomed, tracked members of `group` hold at least this position. */
  holding({ group, offset, epoch }) {
    const list = (groups.get(group) ?? []).filter((c) => c.welcomed);
    const holding = list.filter((c) => c.pos && c.pos.epoch === epoch && c.pos.offset >= offset).length;
    return { members: list.length, holding };
  },

  stormTarget({ offset, epoch }) {
    storm.target = { offset, epoch };
    for (const c of groups.get(storm.group) ?? []) checkRecovered(c);
    return {};
  },

  stormStatus() {
    const { dropped, down, attempts, failed, lastWelcomeNs, recovered, lastRecoveredNs, told, dups, gaps, epochs, replayed, failures, droppedAgain } = storm;
    return { dropped, down, attempts, failed, lastWelcomeNs, recovered, lastRecoveredNs, told, dups, gaps, epochs, replayed, failures, droppedAgain, welcomeHist: storm.welcomeHist.toJSON(), recoveredHist: storm.recoveredHist.toJSON() };
  },

  status() {
    const out = {};
    for (const [name, list] of groups) out[name] = { open: list.filter((c) => c.ws).length, welcomed: list.filter((c) => c.welcomed).length };
    return { groups: out, unexpectedCloses };
  },

  close({ group }) {
    const list = groups.get(group) ?? [];
    for (const conn of list) {
      conn.closing = true;
      conn.ws?.destroy();
      conn.ws = null;
      conn.welcomed = false;
    }
    groups.delete(group);
    if (storm.group === group) storm.armed = false;
    return { closed: list.length };
  },
};

serveCommands(commands);
