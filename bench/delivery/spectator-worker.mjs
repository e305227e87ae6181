/**
 * One load-generator process of bench/delivery-failover.mjs (forked by loadgen/pool.mjs): a few
 * thousand log spectators on raw RFC 6455 sockets, each following the delivery protocol as a
 * client must (README, Delivery guarantees):
 *
 * - `auth` (its own room `user:<sub>`), `spectate {guild_id, include_logs: true}`;
 * - on `resync` (its room moved after a monolith died): `recover {since}` for the session stream,
 *   then `spectate` again with `since` for the guild's streams;
 * - on a reconnect-range close: reconnect with back-off, `auth` with `since`, `spectate` with
 *   `since`; a request answered `unavailable` or `rate_limited` is sent again after a back-off.
 *
 * Every positioned push of its guild's log stream is recorded (accounting.mjs); the report
 * compares them with the publisher's acknowledgements. Commands (IPC, as pool.mjs speaks):
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
import { ApiEvent, ErrorCode, Permission, ServerEvent, fullJitter, guildLogsStream, guildStream, isTerminal } from '@gateway/protocol';
import { mintToken } from '@gateway/server-kit';
import { localAddress } from '../loadgen/addresses.mjs';
import { readPosition } from '../loadgen/positions.mjs';
import { openWebSocket } from '../loadgen/rfc6455.mjs';
import { StreamLog, outcome, ranges } from './accounting.mjs';

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const REQUEST_TIMEOUT_MS = 15_000;
const CONNECT_TIMEOUT_MS = 10_000;
const RETRYABLE = new Set([ErrorCode.UNAVAILABLE, ErrorCode.RATE_LIMITED]);

let jwtSecret;
let workerIndex = 0;
/** @type {Spectator[]} */
let clients = [];

class Spectator {
  constructor(index, token, sub, guild, urls, address) {
    this.index = index;
    this.token = token;
    this.guild = guild;
    this.urls = urls; // its own balancer first; reconnects go round the list
    this.address = address;
    this.session = `user:${sub}`;
    this.logsStream = guildLogsStream(guild);
    this.poolStream = guildStream(guild);
    /** @type {Map<string, { offset: number, epoch: string }>} positions held, sent back as since */
    this.positions = new Map();
    /** @type {StreamLog | undefined} */
    this.log = undefined;
    this.ws = null;
    this.urlAt = 0;
    this.pending = new Map();
    this.nextId = 0;
    this.chain = Promise.resolve();
    this.busy = 0;
    this.stopped = false;
    this.welcomeWaiter = null;
    this.firstMonolith = '';
    this.monolith = '';
    this.welcomes = 0;
    this.resyncs = 0;
    this.resynced = 0;
    this.reconnects = 0;
    this.closes = [];
    this.errors = [];
    this.early = 0;
    this.toldSession = 0;
    /** Spectate replies of recoveries (after a resync or a reconnect): { how, ms }. */
    this.recoveries = [];
    /** When each step of the protocol happened (ms): welcomes, resyncs, recover replies, closes. */
    this.times = { welcome: [], resync: [], recover: [], close: [] };
  }

  /** Runs `step` after the steps before it; a failure is recorded, never thrown at the caller. */
  enqueue(step) {
    this.busy++;
    const run = this.chain.then(step);
    this.chain = run.catch((err) => this.errors.push(String(err?.message ?? err))).finally(() => this.busy--);
    return this.chain;
  }

  sinceOf(streams) {
    const out = {};
    for (const s of streams) {
      const p = this.positions.get(s);
      if (p) out[s] = { offset: p.offset, epoch: p.epoch };
    }
    return Object.keys(out).length ? out : undefined;
  }

  /** Opens a socket to the next balancer and authenticates (with `since` once it holds one). */
  async open() {
    const url = new URL(this.urls[this.urlAt % this.urls.length]);
    const target = { host: url.hostname, port: Number(url.port), path: url.pathname, localAddress: this.address, timeoutMs: CONNECT_TIMEOUT_MS };
    const ws = await openWebSocket(target, { onText: (text, client) => this.onText(text, client), onClose: (code, _reason, client) => this.onClose(code, client) });
    this.ws = ws;
    const since = this.sinceOf([this.session]);
    const welcomed = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no welcome in time')), CONNECT_TIMEOUT_MS);
      this.welcomeWaiter = { resolve: () => (clearTimeout(timer), resolve()), reject: (e) => (clearTimeout(timer), reject(e)) };
    });
    ws.sendText(JSON.stringify(since ? { action: 'auth', token: this.token, since } : { action: 'auth', token: this.token }));
    try {
      await welcomed;
    } finally {
      this.welcomeWaiter = null;
    }
  }

  /** Connects (retrying with back-off) and spectates; `how` names a recovery ('reconnect') or the first start. */
  async connect(how) {
    // A reconnect queued by a close while an earlier connect was still running: that one has
    // opened (and spectated on) a new socket already.
    if (how === 'reconnect' && this.ws !== null) return;
    for (let attempt = 0; attempt < 30 && !this.stopped; attempt++) {
      if (attempt > 0 || how !== 'start') await sleep(fullJitter(attempt, 100, 2000));
      if (attempt > 0) this.urlAt++;
      try {
        await this.open();
        await this.spectate(how);
        if (how !== 'start') this.reconnects++;
        return;
      } catch (err) {
        if (this.stopped) return;
        if (this.ws) {
          const ws = this.ws;
          this.ws = null;
          ws.destroy();
        }
        if (attempt === 29) throw new Error(`no session after 30 attempts: ${err.message}`);
      }
    }
  }

  async spectate(how) {
    const since = this.log ? this.sinceOf([this.poolStream, this.logsStream]) : undefined;
    const reply = await this.retrying(ApiEvent.SPECTATE, () => ({ guild_id: this.guild, include_logs: true, ...(since ? { since } : {}) }));
    const { positions = {}, recovered = {} } = reply.data ?? {};
    if (!this.log) {
      const start = positions[this.logsStream];
      if (!start) throw new Error(`spectate reply without a position for ${this.logsStream}: ${JSON.stringify(reply)}`);
      this.log = new StreamLog(start);
    } else {
      this.recoveries.push({ how, ms: nowMs() });
    }
    for (const [stream, pos] of Object.entries(positions)) {
      if (recovered[stream] === false && stream === this.logsStream) this.log.reload(pos);
      if (recovered[stream] === false || !this.positions.has(stream)) this.positions.set(stream, pos);
    }
  }

  async resync() {
    const ws = this.ws;
    try {
      const reply = await this.retrying(ApiEvent.RECOVER, () => ({ since: this.sinceOf([this.session]) ?? {} }));
      this.times.recover.push(nowMs());
      const r = reply.data ?? {};
      if (r.recovered?.[this.session] === false) {
        this.toldSession++;
        if (r.positions?.[this.session]) this.positions.set(this.session, r.positions[this.session]);
      }
      await this.spectate('resync');
      this.resynced++;
    } catch (err) {
      // Closed meanwhile: the reconnect (queued by the close) recovers with since.
      if (this.ws !== ws || ws === null) return;
      throw err;
    }
  }

  /** A request on the current socket, sent again after a back-off while it is answered unavailable/rate_limited. */
  async retrying(event, data) {
    for (let attempt = 0; attempt < 10; attempt++) {
      if (attempt > 0) await sleep(fullJitter(attempt, 100, 1000));
      const reply = await this.request(event, data());
      if (reply.event === event) return reply;
      if (!RETRYABLE.has(reply.code)) throw new Error(`${event} answered ${JSON.stringify(reply).slice(0, 300)}`);
    }
    throw new Error(`${event} still refused after 10 attempts`);
  }

  request(event, data) {
    const ws = this.ws;
    if (!ws) return Promise.reject(new Error(`${event}: no socket`));
    const id = `${event}${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => (this.pending.delete(id), reject(new Error(`${event}: no reply in time`))), REQUEST_TIMEOUT_MS);
      this.pending.set(id, { ws, resolve: (msg) => (clearTimeout(timer), resolve(msg)), reject: (err) => (clearTimeout(timer), reject(err)) });
      ws.sendText(JSON.stringify({ event, _id: id, data }));
    });
  }

  onText(text, ws) {
    if (ws !== this.ws) return;
    const pos = readPosition(text);
    if (pos) {
      if (pos.stream === this.logsStream) {
        if (!this.log) this.early++;
        else this.log.push(pos.offset, pos.epoch, nowMs());
      }
      const held = this.positions.get(pos.stream);
      if (!held || held.epoch !== pos.epoch || pos.offset > held.offset) this.positions.set(pos.stream, { offset: pos.offset, epoch: pos.epoch });
      return;
    }
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      this.errors.push(`unparsable frame ${text.slice(0, 80)}`);
      return;
    }
    if (msg._id !== undefined && this.pending.has(msg._id)) {
      const p = this.pending.get(msg._id);
      this.pending.delete(msg._id);
      return p.resolve(msg);
    }
    if (msg.event === ServerEvent.WELCOME) {
      this.welcomes++;
      this.times.welcome.push(nowMs());
      this.monolith = String(msg.data?.monolith ?? '');
      this.firstMonolith ||= this.monolith;
      const d = msg.data ?? {};
      for (const [stream, p] of Object.entries(d.positions ?? {})) {
        if (d.recovered?.[stream] === false) this.toldSession++;
        if (d.recovered?.[stream] === false || !this.positions.has(stream)) this.positions.set(stream, p);
      }
      this.welcomeWaiter?.resolve();
    } else if (msg.event === ServerEvent.RESYNC) {
      this.resyncs++;
      this.times.resync.push(nowMs());
      this.enqueue(() => this.resync());
    } else if (msg.event === ServerEvent.ERROR) {
      this.errors.push(`error push ${text.slice(0, 200)}`);
    }
  }

  onClose(code, ws) {
    if (ws !== this.ws) return;
    this.ws = null;
    for (const [id, p] of this.pending) {
      if (p.ws !== ws) continue;
      this.pending.delete(id);
      p.reject(new Error(`closed ${code}`));
    }
    if (this.welcomeWaiter) return this.welcomeWaiter.reject(new Error(`closed ${code} before welcome`));
    if (this.stopped) return;
    this.closes.push(code);
    this.times.close.push(nowMs());
    if (isTerminal(code)) {
      this.errors.push(`terminal close ${code}`);
      return;
    }
    this.enqueue(() => this.connect('reconnect'));
  }
}

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

process.on('message', async (msg) => {
  try {
    const result = await commands[msg.cmd](msg.args ?? {});
    process.send({ id: msg.id, ok: true, result });
  } catch (err) {
    process.send({ id: msg.id, ok: false, error: err?.stack ?? String(err) });
  }
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
