/**
 * One load-generator process (forked by pool.mjs), holding up to a few thousand client sockets of
 * one system under test and driving them on command over IPC. Commands and their replies:
 *
 *   init     { systemPath, jwtSecret, index }                        → {}
 *   prepare  { group, startIndex, count, urls, room, clientPath?, headers?, clientOptions?, track?, addrOctet, timeoutMs }
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
import { Histogram } from './histogram.mjs';
import { localAddress } from './addresses.mjs';
import { readPosition, replyPositions, sinceOf, step } from './positions.mjs';
import { openWebSocket } from './rfc6455.mjs';

const now = () => Number(process.hrtime.bigint());
const CONNECT_ATTEMPTS = 8;

let mod; // the system adapter module
let jwtSecret;
/** @type {Map<string, Conn[]>} */
const groups = new Map();
let unexpectedCloses = {};
/** @type {Conn[]} clients built by `prepare`, opened by the next `connect` */
let prepared = [];

/** Fan-out accounting, armed by `fanout`. */
const fan = { from: 0, to: 0, closedLoop: false, perSeq: 0, counts: new Int32Array(0), delivered: 0, hist: new Histogram(), firstNs: 0, lastNs: 0, done: false };
/** Reconnect storm accounting, armed by `storm`. */
const storm = { armed: false, group: '', base: 100, cap: 5000, timeoutMs: 10_000, dropped: 0, down: 0, attempts: 0, failed: 0, lastWelcomeNs: 0, ...recoveryCounts() };

/** Recovery accounting of a storm over tracked clients (`stormTarget`, `stormStatus`). */
function recoveryCounts() {
  // welcomeHist / recoveredHist: from the start of a client's successful attempt (open) to its
  // welcome / to holding the target: the server's part of a storm, without the back-off waits.
  return { target: null, recovered: 0, lastRecoveredNs: 0, told: 0, dups: 0, gaps: 0, epochs: 0, replayed: 0, failures: {}, droppedAgain: {}, welcomeHist: new Histogram(), recoveredHist: new Histogram() };
}

/** One client: its socket, identity and per-scenario state. */
class Conn {
  constructor(index, group, target, token, room, client, options, track) {
    this.index = index;
    this.group = group;
    this.target = target; // { host, port, path, headers, localAddress, timeoutMs }
    this.token = token;
    this.room = room;
    this.client = client; // the adapter's client side: hello, classify, ping
    this.options = options; // per-group client options (e.g. a link secret), passed to classify
    this.track = track; // follow the session stream's position, reconnect with since
    /** @type {{ stream: string, offset: number, epoch: string } | undefined} */
    this.pos = undefined;
    this.recovered = false;
    this.attemptNs = 0;
    this.ws = null;
    this.welcomed = false;
    this.closing = false;
    this.onWelcome = null; // resolver while connecting
    this.onPong = null; // ping loop callback
    this.everDropped = false;
    this.attempt = 0;
  }

  /** The upgrade headers this client sends (the adapter client's classify may need them). */
  get headers() {
    return this.target.headers;
  }

  /** Opens the socket and sends the hello frames; `onWelcome` fires on welcome or failure. */
  open() {
    this.welcomed = false;
    const handlers = { onText: (text, ws) => onText(text, ws, this), onClose: (code, _r, ws) => onClose(code, ws, this) };
    return openWebSocket(this.target, handlers).then((ws) => {
      this.ws = ws;
      const frames = this.client.hello(this.token, this.room, this.track ? sinceOf(this.pos) : undefined);
      ws.cork();
      for (const f of frames) ws.sendText(f);
      ws.uncork();
      return ws;
    });
  }
}

function onText(text, ws, conn) {
  const c = conn.client.classify(text, conn);
  switch (c.kind) {
    case 'delivery':
      if (conn.track) onPosition(conn, readPosition(text));
      return onDelivery(c);
    case 'pong':
      if (conn.onPong !== null) conn.onPong(c.id);
      return;
    case 'welcome':
      if (conn.track) onWelcomePositions(conn, text);
      conn.welcomed = true;
      if (conn.onWelcome !== null) conn.onWelcome(true);
      return;
    case 'reply':
      ws.cork();
      for (const f of c.frames) ws.sendText(f);
      ws.uncork();
      return;
    default:
  }
}

function onClose(code, ws, conn) {
  // A socket dropped on purpose (conn.ws cleared first) reports nothing.
  if (conn.ws !== ws) return;
  const wasWelcomed = conn.welcomed;
  conn.welcomed = false;
  conn.ws = null;
  if (conn.onWelcome !== null) return conn.onWelcome(false, code);
  if (conn.closing) return;
  if (storm.armed && conn.group === storm.group && wasWelcomed) {
    if (!conn.everDropped) storm.dropped++;
    else storm.droppedAgain[code] = (storm.droppedAgain[code] ?? 0) + 1;
    conn.everDropped = true;
    storm.down++;
    return stormReconnect(conn);
  }
  unexpectedCloses[code] = (unexpectedCloses[code] ?? 0) + 1;
}

/** A tracked client's welcome: its start position, or whether its `since` was recovered. */
function onWelcomePositions(conn, text) {
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

function onPosition(conn, pos) {
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
function checkRecovered(conn) {
  const t = storm.target;
  if (t === null || conn.recovered || !conn.everDropped || conn.group !== storm.group || !conn.pos) return;
  if (conn.pos.epoch !== t.epoch || conn.pos.offset < t.offset) return;
  conn.recovered = true;
  storm.recovered++;
  storm.lastRecoveredNs = now();
  storm.recoveredHist.record((storm.lastRecoveredNs - conn.attemptNs) / 1000);
}

function onDelivery(c) {
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

/** Full-jitter exponential back-off, as the client SDK does (DESIGN §4): the protocol's fullJitter. */
function stormReconnect(conn) {
  const delay = fullJitter(conn.attempt, storm.base, storm.cap);
  setTimeout(async () => {
    if (conn.closing) return;
    storm.attempts++;
    const t0 = now();
    conn.attemptNs = t0;
    const ok = await connectOne(conn, storm.timeoutMs);
    if (conn.closing) return conn.ws?.destroy();
    if (ok === true) {
      conn.attempt = 0;
      storm.down--;
      storm.lastWelcomeNs = now();
      storm.welcomeHist.record((storm.lastWelcomeNs - t0) / 1000);
    } else {
      storm.failed++;
      storm.failures[ok] = (storm.failures[ok] ?? 0) + 1;
      conn.attempt++;
      stormReconnect(conn);
    }
  }, delay);
}

/** Waits for welcome after open(); false with a reason on any failure or timeout. */
function connectOne(conn, timeoutMs) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(false, 'welcome timeout'), timeoutMs);
    const finish = (ok, why) => {
      clearTimeout(timer);
      conn.onWelcome = null;
      if (!ok && conn.ws) {
        conn.ws.destroy();
        conn.ws = null;
      }
      resolve(ok ? true : String(why));
    };
    conn.onWelcome = (ok, code) => finish(ok, `closed ${code} before welcome`);
    conn.open().catch((err) => finish(false, err.message));
  });
}

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
      prepared.push(new Conn(index, a.group, target, tokens[k], a.room, client, a.clientOptions ?? {}, a.track === true));
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
    const members = (groups.get(group) ?? []).filter((c) => c.welcomed).slice(0, concurrency);
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

process.on('message', async (msg) => {
  try {
    const result = await commands[msg.cmd](msg.args ?? {});
    process.send({ id: msg.id, ok: true, result });
  } catch (err) {
    process.send({ id: msg.id, ok: false, error: err?.stack ?? String(err) });
  }
});
// The parent going away ends this worker: its sockets close with it. Exiting (not dying by the
// signal) lets `--cpu-prof` write its profile.
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
