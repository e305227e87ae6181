/**
 * One log spectator of bench/delivery-failover.mjs (spectator-worker.mjs holds a few thousand)
 * on a raw RFC 6455 socket, following the delivery protocol as a client must (README, Delivery
 * guarantees):
 *
 * - `auth` (its own room `user:<sub>`), `spectate {guild_id, include_logs: true}`;
 * - on `resync` (its room moved after a monolith died): `recover {since}` for the session stream,
 *   then `spectate` again with `since` for the guild's streams;
 * - on a reconnect-range close: reconnect with back-off, `auth` with `since`, `spectate` with
 *   `since`; a request answered `unavailable` or `rate_limited` is sent again after a back-off.
 *
 * Every positioned push of its guild's log stream is recorded (accounting.mjs). Times are
 * process.hrtime (CLOCK_MONOTONIC) in ms: comparable with the orchestrator's.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiEvent, ErrorCode, ServerEvent, fullJitter, guildLogsStream, guildStream, isTerminal } from '@gateway/protocol';
import { nowMs } from '../loadgen/clock.mjs';
import { readPosition } from '../loadgen/positions.mjs';
import { openWebSocket } from '../loadgen/rfc6455.mjs';
import { StreamLog } from './accounting.mjs';

const REQUEST_TIMEOUT_MS = 15_000;
const CONNECT_TIMEOUT_MS = 10_000;
const RETRYABLE = new Set([ErrorCode.UNAVAILABLE, ErrorCode.RATE_LIMITED]);

export class Spectator {
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
