import { describe, expect, it } from 'vitest';
import { createLog } from '@gateway/server-kit';
import type { Broker, HistoryPolicy, PublicationHandler, PublishOptions } from './broker.js';
import { Hub, type FanOut, type HubOptions } from './hub.js';
import { MemoryBroker } from './memory-broker.js';
import { routingFor } from './routing.js';
import { waitFor } from '../../../testing/wait.js';

const policy = { HISTORY_ROOM_SIZE: 100, HISTORY_ROOM_TTL_S: 300, HISTORY_USER_SIZE: 100, HISTORY_USER_TTL_S: 300, HISTORY_GUILD_SIZE: 100, HISTORY_GUILD_TTL_S: 300, HISTORY_LOGS_SIZE: 100, HISTORY_LOGS_TTL_S: 300 };
const log = createLog('test', 'error');

/** Every fan-out, as `channel offset`. */
class RecordingFanOut implements FanOut {
  readonly sent: Array<{ channel: string; push: Record<string, unknown> }> = [];
  publish(channel: string, messageJson: string): number {
    this.sent.push({ channel, push: JSON.parse(messageJson) as Record<string, unknown> });
    return 1;
  }
  offsets(channel: string): number[] {
    return this.sent.filter((s) => s.channel === channel).map((s) => s.push.offset as number);
  }
}

/**
 * A MemoryBroker whose live delivery can be cut and restored, as a Redis subscriber connection
 * that drops: publications made while it is down are stored but not delivered.
 */
class FlakyBroker implements Broker {
  private deliver: PublicationHandler = () => {};
  private readonly listeners: Array<(up: boolean) => void> = [];
  private readonly resubscribed: Array<(streams: string[]) => void> = [];
  up = true;
  /** While set, live deliveries wait here (a subscriber connection that lags the commands one). */
  private held: Array<() => void> | undefined;
  constructor(readonly inner = new MemoryBroker()) {
    inner.onPublication((stream, pub) => {
      if (!this.up) return;
      if (this.held) this.held.push(() => this.deliver(stream, pub));
      else this.deliver(stream, pub);
    });
  }
  hold() {
    this.held = [];
  }
  /** Delivers what was held, in order, and delivers live again. */
  flush() {
    const held = this.held ?? [];
    this.held = undefined;
    for (const d of held) d();
  }
  get connected() {
    return this.up;
  }
  /** Back up: every subscribed stream was re-subscribed, as a reconnected Redis subscriber reports. */
  setUp(up: boolean) {
    this.up = up;
    for (const l of this.listeners) l(up);
    if (up) for (const l of this.resubscribed) l(this.inner.streams());
  }
  publish(stream: string, data: string, opts: PublishOptions) {
    return this.inner.publish(stream, data, opts);
  }
  /** While set, a subscription goes live only when the gate opens (a slow SUBSCRIBE). */
  subscribeGate: Promise<void> | undefined;
  async subscribe(stream: string) {
    await this.subscribeGate;
    return this.inner.subscribe(stream);
  }
  /** History reads still to fail (a Redis command that errors while pub/sub still works). */
  failingReads = 0;
  /** The next history read waits for this and then fails (a read in flight while things happen). */
  nextReadFailsAfter: Promise<void> | undefined;
  /** The next history read waits for this, then reads (a slow read in flight). */
  nextReadWaits: Promise<void> | undefined;
  /** The next successful read reads now and answers when this opens (a reply in flight). */
  nextAnswerWaits: Promise<void> | undefined;
  unsubscribe(stream: string) {
    return this.inner.unsubscribe(stream);
  }
  async history(stream: string, opts: { since?: number; limit: number }) {
    const slow = this.nextReadWaits;
    if (slow) {
      this.nextReadWaits = undefined;
      await slow;
      return this.inner.history(stream, opts);
    }
    const gate = this.nextReadFailsAfter;
    if (gate) {
      this.nextReadFailsAfter = undefined;
      await gate;
      throw new Error('history read failed (gated)');
    }
    if (this.failingReads > 0) {
      this.failingReads--;
      throw new Error('history read failed');
    }
    const answer = this.nextAnswerWaits;
    if (answer) {
      this.nextAnswerWaits = undefined;
      const read = await this.inner.history(stream, opts);
      await answer;
      return read;
    }
    return this.inner.history(stream, opts);
  }
  onPublication(handler: PublicationHandler) {
    this.deliver = handler;
  }
  onConnectionChange(listener: (up: boolean) => void) {
    this.listeners.push(listener);
  }
  onResubscribed(listener: (streams: string[]) => void) {
    this.resubscribed.push(listener);
  }
  streams() {
    return this.inner.streams();
  }
  close() {
    return this.inner.close();
  }
}

function setup(windowSize = 10, maxReplay = 1000, inner = new MemoryBroker(), extra: Partial<HubOptions> = {}) {
  const broker = new FlakyBroker(inner);
  const fan = new RecordingFanOut();
  const lost: number[] = [];
  const hub = new Hub(broker, fan, routingFor(policy), { windowSize, maxReplay, log, retryDelayMs: () => 1, observeLost: (n) => lost.push(n), ...extra });
  const publish = (stream: string, n: number) => hub.publish(stream, JSON.stringify({ event: 'tick', data: { n } }));
  return { broker, fan, hub, publish, lost };
}

/** A gate and the function that opens it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/**
 * Acquires a stream as a connection joining does: its recovery waits until the subscription is
 * live and the fan-out frontier set (what is stored before that, connections read from history).
 */
async function joined(hub: Hub, stream: string): Promise<void> {
  hub.acquire(stream);
  (await hub.beginRecovery(stream, undefined)).abandon();
}

const until = (cond: () => boolean) => waitFor(cond, { timeoutMs: 2000, intervalMs: 2 });
const ns = (pushes: string[]) => pushes.map((p) => (JSON.parse(p) as { data: { n: number } }).data.n);

describe('Hub', () => {
  it('fans out positioned pushes in offset order, with stream, offset and epoch', async () => {
    const { hub, fan, publish } = setup();
    await joined(hub, 'room:a');
    const at = await publish('room:a', 1);
    await publish('room:a', 2);
    await until(() => fan.sent.length === 2);
    expect(fan.sent[0]).toEqual({ channel: 'room:a', push: { event: 'tick', data: { n: 1 }, stream: 'room:a', offset: at.offset, epoch: at.epoch } });
    expect(fan.offsets('room:a')).toEqual([1, 2]);
  });

  it('routes private log entries to the private channel of the one log stream', async () => {
    const { hub, fan } = setup();
    await joined(hub, 'guild:1:logs');
    await hub.publish('guild:1:logs', JSON.stringify({ event: 'log_other', data: { id: '1', private: false } }));
    await hub.publish('guild:1:logs', JSON.stringify({ event: 'log_other', data: { id: '2', private: true } }));
    await until(() => fan.sent.length === 2);
    expect(fan.sent.map((s) => [s.channel, s.push.offset])).toEqual([
      ['guild:1:logs', 1],
      ['guild:1:logs:private', 2],
    ]);
  });

  it('recovers a connection from its position: missed then buffered live, once each, before it joins', async () => {
    const { hub, fan, publish } = setup(2);
    await joined(hub, 'room:a');
    for (let n = 1; n <= 5; n++) await publish('room:a', n);
    await until(() => fan.sent.length === 5);
    const epoch = fan.sent[0]!.push.epoch as string;
    // Offset 1 is past the 2-entry window: the broker's history is read.
    const pending = hub.beginRecovery('room:a', { offset: 1, epoch });
    // Live publications while the history is read: buffered for this connection.
    await publish('room:a', 6);
    const recovery = await pending;
    await publish('room:a', 7);
    await until(() => fan.sent.length === 7);
    const sent: string[] = [];
    recovery.finish((push) => sent.push(push));
    expect(recovery.read).toMatchObject({ recovered: true, position: { offset: 1, epoch } });
    expect(ns(sent)).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it('serves a recovery that the window covers without reading the broker', async () => {
    const { hub, fan, publish, broker } = setup(10);
    await joined(hub, 'room:a');
    for (let n = 1; n <= 4; n++) await publish('room:a', n);
    await until(() => fan.sent.length === 4);
    let reads = 0;
    const history = broker.history.bind(broker);
    broker.history = (s, o) => (reads++, history(s, o));
    const recovery = await hub.beginRecovery('room:a', { offset: 2, epoch: fan.sent[0]!.push.epoch as string });
    const sent: string[] = [];
    recovery.finish((push) => sent.push(push));
    expect(ns(sent)).toEqual([3, 4]);
    expect(reads).toBe(0);
  });

  it('answers recovered false for another epoch or a gap the history no longer covers', async () => {
    const { hub, fan, broker } = setup(1);
    await joined(hub, 'room:t');
    const small: HistoryPolicy = { size: 2, ttlMs: 60_000 };
    for (let n = 1; n <= 5; n++) await broker.publish('room:t', JSON.stringify({ event: 'tick', data: { n } }), { history: small });
    await until(() => fan.sent.length === 5);
    const epoch = fan.sent[0]!.push.epoch as string;
    const trimmed = await hub.beginRecovery('room:t', { offset: 1, epoch });
    expect(trimmed.read).toMatchObject({ recovered: false, position: { offset: 5, epoch } });
    const sent: string[] = [];
    trimmed.finish((push) => sent.push(push));
    expect(sent).toEqual([]);
    const other = await hub.beginRecovery('room:t', { offset: 5, epoch: 'not-this-one' });
    expect(other.read.recovered).toBe(false);
    other.abandon();
  });

  it('fills the gap from history after the broker connection comes back, then delivers live', async () => {
    const { hub, fan, publish, broker } = setup();
    await joined(hub, 'user:u');
    await publish('user:u', 1);
    await until(() => fan.sent.length === 1);
    broker.setUp(false);
    await publish('user:u', 2);
    await publish('user:u', 3);
    broker.setUp(true);
    await publish('user:u', 4);
    await until(() => fan.sent.length === 4);
    expect(fan.offsets('user:u')).toEqual([1, 2, 3, 4]);
  });

  it('fills a skipped offset from history before delivering what came after it', async () => {
    const { hub, fan, publish, broker } = setup();
    await joined(hub, 'room:s');
    await publish('room:s', 1);
    await until(() => fan.sent.length === 1);
    broker.up = false; // lost without the connection noticing
    await publish('room:s', 2);
    broker.up = true;
    await publish('room:s', 3);
    await until(() => fan.sent.length === 3);
    expect(fan.offsets('room:s')).toEqual([1, 2, 3]);
  });

  // The connection's view: what `finish` sent, then what the hub fanned out after it (the caller
  // subscribes right after finish). Each offset after the client's position must be there once.
  it('leaves a publication the broker read saw before its live arrival to the fan-out (no duplicate), window too short', async () => {
    const { hub, fan, publish, broker } = setup(1);
    await joined(hub, 'room:d');
    for (let n = 1; n <= 3; n++) await publish('room:d', n);
    await until(() => fan.sent.length === 3);
    const epoch = fan.sent[0]!.push.epoch as string;
    broker.hold();
    await publish('room:d', 4); // stored; its live delivery lags
    // Offset 1 is before the 1-entry window: the broker is read, and it already holds offset 4.
    const recovery = await hub.beginRecovery('room:d', { offset: 1, epoch });
    const sent: string[] = [];
    recovery.finish((push) => sent.push(push));
    const joinedAt = fan.sent.length;
    broker.flush();
    await publish('room:d', 5);
    await until(() => fan.sent.length === joinedAt + 2);
    const afterJoin = fan.sent.slice(joinedAt).map((f) => f.push.offset as number);
    expect({ sent: ns(sent), afterJoin }).toEqual({ sent: [2, 3], afterJoin: [4, 5] });
  });

  it('sets the frontier when the subscription goes live: a stream with history before it, read ahead of a lagging live arrival', async () => {
    const { hub, fan, publish, broker } = setup();
    const first = await publish('room:e', 1); // before anyone here subscribed: history only
    await joined(hub, 'room:e');
    await until(() => broker.streams().includes('room:e'));
    broker.hold();
    await publish('room:e', 2);
    const recovery = await hub.beginRecovery('room:e', { offset: 0, epoch: first.epoch });
    const sent: string[] = [];
    recovery.finish((push) => sent.push(push));
    expect(recovery.read).toMatchObject({ recovered: true });
    const joinedAt = fan.sent.length;
    broker.flush();
    await publish('room:e', 3);
    await until(() => fan.sent.length === joinedAt + 2);
    // Offset 1 was stored before the subscription: only history has it. Offset 2 arrives live.
    expect({ sent: ns(sent), afterJoin: fan.sent.slice(joinedAt).map((f) => f.push.offset as number) }).toEqual({ sent: [1], afterJoin: [2, 3] });
  });

  it('fans out what was published between the position read and the live subscription (a connection joined live gets it)', async () => {
    const { hub, fan, publish, broker } = setup();
    const slow = gate();
    broker.subscribeGate = slow.wait;
    hub.acquire('room:f'); // the position is read now; the SUBSCRIBE is slow
    await publish('room:f', 1); // stored while no subscription is live: it never arrives live
    slow.open();
    (await hub.beginRecovery('room:f', undefined)).abandon();
    await publish('room:f', 2);
    await until(() => fan.sent.length >= 2);
    expect(fan.offsets('room:f')).toEqual([1, 2]);
  });

  it('holds at most maxHeld live arrivals during a gap fill; the ones left out are read from history, once each, in order', async () => {
    const { broker, fan, hub, publish: publishTo } = setup(10, 1000, undefined, { maxHeld: 3 });
    const publish = (n: number) => publishTo('room:h', n);
    await joined(hub, 'room:h');
    await publish(1);
    await until(() => fan.sent.length === 1);
    broker.up = false; // lost without the connection noticing
    await publish(2);
    broker.up = true;
    // The fill's read is slow: ten more arrive meanwhile, three are held.
    const slow = gate();
    broker.nextReadWaits = slow.wait;
    for (let n = 3; n <= 12; n++) await publish(n);
    expect(hub.heldCount()).toBe(3);
    slow.open();
    await until(() => fan.sent.length === 12);
    await publish(13);
    await until(() => fan.sent.length === 13);
    expect({ offsets: fan.offsets('room:h'), held: hub.heldCount() }).toEqual({ offsets: Array.from({ length: 13 }, (_, i) => i + 1), held: 0 });
  });

  it('reads again for arrivals left out of a full hold that came after its read, though nothing else arrives', async () => {
    const { broker, fan, hub, publish: publishTo } = setup(10, 1000, undefined, { maxHeld: 2 });
    const publish = (n: number) => publishTo('room:q', n);
    await joined(hub, 'room:q');
    await publish(1);
    await until(() => fan.sent.length === 1);
    broker.up = false;
    await publish(2);
    broker.up = true;
    // The fill reads now (it sees 1..2) and answers later; 3 and 4 are held, 5 left out.
    const answer = gate();
    broker.nextAnswerWaits = answer.wait;
    await publish(3);
    await publish(4);
    await publish(5);
    answer.open();
    // The stream is quiet now: 5 must come from a second read, not wait for a next arrival.
    await until(() => fan.sent.length === 5);
    expect(fan.offsets('room:q')).toEqual([1, 2, 3, 4, 5]);
  });

  it('retries a gap fill whose history read fails, and delivers the gap before what came after it', async () => {
    const { hub, fan, publish, broker, lost } = setup();
    await joined(hub, 'room:r');
    await publish('room:r', 1);
    await until(() => fan.sent.length === 1);
    broker.up = false; // lost without the connection noticing
    await publish('room:r', 2);
    broker.up = true;
    broker.failingReads = 2;
    await publish('room:r', 3);
    await until(() => fan.sent.length === 3);
    await publish('room:r', 4);
    await until(() => fan.sent.length === 4);
    expect({ offsets: fan.offsets('room:r'), lost }).toEqual({ offsets: [1, 2, 3, 4], lost: [] });
  });

  it('a recovery that finished while a gap fill was failing still gets what it left to the fan-out', async () => {
    const { hub, fan, publish, broker } = setup(1);
    await joined(hub, 'room:g');
    await publish('room:g', 1);
    await publish('room:g', 2);
    await until(() => fan.sent.length === 2);
    const epoch = fan.sent[0]!.push.epoch as string;
    broker.up = false;
    await publish('room:g', 3); // missed live
    broker.up = true;
    const failing = gate();
    broker.nextReadFailsAfter = failing.wait; // the fill's read, in flight
    await publish('room:g', 4); // arrives, skipping 3: the fill starts and holds it
    // Offset 0 is before the 1-entry window: the broker is read and has 1..4, past the frontier (2).
    const recovery = await hub.beginRecovery('room:g', { offset: 0, epoch });
    const sent: string[] = [];
    recovery.finish((push) => sent.push(push));
    const joinedAt = fan.sent.length;
    failing.open();
    await until(() => fan.sent.length >= joinedAt + 2);
    expect({ sent: ns(sent), afterJoin: fan.sent.slice(joinedAt).map((f) => f.push.offset as number) }).toEqual({ sent: [1, 2], afterJoin: [3, 4] });
  });

  it('reads a gap longer than maxReplay page by page', async () => {
    const { hub, fan, publish, broker } = setup(10, 2);
    await joined(hub, 'room:p');
    await publish('room:p', 1);
    await until(() => fan.sent.length === 1);
    broker.up = false;
    for (let n = 2; n <= 6; n++) await publish('room:p', n);
    broker.up = true;
    await publish('room:p', 7);
    await until(() => fan.sent.length === 7);
    expect(fan.offsets('room:p')).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('gives up a gap history no longer holds with a stream_gap push on the stream\'s channel, and to a recovery in progress', async () => {
    const { hub, fan, broker, lost } = setup();
    const small: HistoryPolicy = { size: 2, ttlMs: 60_000 };
    const entry = (n: number) => JSON.stringify({ event: 'log_other', data: { id: String(n), private: false } });
    await joined(hub, 'guild:1:logs');
    const first = await broker.publish('guild:1:logs', entry(1), { history: small });
    await until(() => fan.sent.length === 1);
    const recovery = await hub.beginRecovery('guild:1:logs', { offset: 1, epoch: first.epoch });
    broker.up = false;
    for (let n = 2; n <= 5; n++) await broker.publish('guild:1:logs', entry(n), { history: small });
    broker.up = true;
    await broker.publish('guild:1:logs', entry(6), { history: small }); // history keeps 5 and 6 only
    await until(() => fan.sent.length === 4);
    const gapPush = { event: 'stream_gap', data: { stream: 'guild:1:logs', epoch: first.epoch, from: 2, to: 4 } };
    expect(fan.sent.map((s) => [s.channel, s.push.offset ?? s.push])).toEqual([
      ['guild:1:logs', 1],
      ['guild:1:logs', gapPush],
      ['guild:1:logs', 5],
      ['guild:1:logs', 6],
    ]);
    const sent: string[] = [];
    recovery.finish((push) => sent.push(push));
    expect(sent.map((p) => JSON.parse(p) as Record<string, unknown>).map((p) => p.offset ?? p.event)).toEqual(['stream_gap', 5, 6]);
    expect(lost).toEqual([3]);
  });

  it('gives a gap up after every read attempt failed, announced before the live publications resume', async () => {
    const { hub, fan, publish, broker, lost } = setup();
    await joined(hub, 'room:x');
    const first = await publish('room:x', 1);
    await until(() => fan.sent.length === 1);
    broker.up = false;
    await publish('room:x', 2);
    broker.up = true;
    broker.failingReads = 1000;
    await publish('room:x', 3);
    await until(() => fan.sent.length === 3);
    broker.failingReads = 0;
    await publish('room:x', 4);
    await until(() => fan.sent.length === 4);
    expect(fan.sent.map((s) => s.push.offset ?? s.push)).toEqual([1, { event: 'stream_gap', data: { stream: 'room:x', epoch: first.epoch, from: 2, to: 2 } }, 3, 4]);
    expect(lost).toEqual([1]);
  });

  // Found by review (each failed on the first version of the gap-fill loop).
  const tick = (n: number) => JSON.stringify({ event: 'tick', data: { n } });

  it('with history off, a gap given up ends at the first live arrival waiting (those are delivered, not swallowed)', async () => {
    const { hub, fan, broker, lost } = setup();
    const none: HistoryPolicy = { size: 0, ttlMs: 60_000 };
    await joined(hub, 'room:z');
    const first = await broker.publish('room:z', tick(1), { history: none });
    await until(() => fan.sent.length === 1);
    broker.up = false;
    await broker.publish('room:z', tick(2), { history: none }); // missed live, not kept: lost
    broker.up = true;
    const slow = gate();
    broker.nextReadWaits = slow.wait; // the fill's read is slow
    await broker.publish('room:z', tick(3), { history: none }); // arrives, skipping 2: held
    await broker.publish('room:z', tick(4), { history: none }); // held
    slow.open();
    await until(() => fan.sent.length >= 4);
    const gapPush = { event: 'stream_gap', data: { stream: 'room:z', epoch: first.epoch, from: 2, to: 2 } };
    expect({ fanned: fan.sent.map((s) => s.push.offset ?? s.push), lost }).toEqual({ fanned: [1, gapPush, 3, 4], lost: [1] });
  });

  it('when the position before subscribing could not be read, a live arrival before the fill\'s read is still fanned out', async () => {
    const { hub, fan, broker, publish } = setup();
    const slowSubscribe = gate();
    broker.subscribeGate = slowSubscribe.wait;
    broker.failingReads = 1; // the read before subscribing fails
    hub.acquire('room:q');
    const slowRead = gate();
    broker.nextReadWaits = slowRead.wait; // the fill's position read, in flight
    slowSubscribe.open();
    await until(() => broker.streams().includes('room:q'));
    await publish('room:q', 1); // arrives live after the subscription: held
    slowRead.open();
    await publish('room:q', 2);
    await until(() => fan.offsets('room:q').includes(2));
    expect(fan.offsets('room:q')).toEqual([1, 2]);
  });

  it('an epoch change while old-epoch arrivals wait: the new epoch once, the old one\'s late publications dropped', async () => {
    let clock = Date.now();
    const { hub, fan, broker, publish } = setup(10, 1000, new MemoryBroker(() => clock));
    await joined(hub, 'room:h');
    await publish('room:h', 1);
    await until(() => fan.sent.length === 1);
    broker.up = false;
    await publish('room:h', 2);
    broker.up = true;
    const slow = gate();
    broker.nextReadWaits = slow.wait;
    await publish('room:h', 3); // skips 2: held, the fill's read is slow
    clock += 25 * 3600 * 1000; // the stream's metadata expires: a new epoch
    await publish('room:h', 4); // the new epoch's offset 1: held too
    slow.open();
    await until(() => fan.sent.length >= 2);
    await publish('room:h', 5);
    await until(() => fan.sent.some((s) => (s.push.data as { n?: number }).n === 5));
    const e1 = fan.sent[0]!.push.epoch;
    expect(fan.sent.map((s) => `${s.push.epoch === e1 ? 'E1' : 'E2'}:${s.push.offset as number}`)).toEqual(['E1:1', 'E2:1', 'E2:2']);
  });

  it('a re-subscribed stream whose reads keep failing, with nothing waiting: the fill keeps trying, and the recovery gets what it left to the fan-out', async () => {
    const { hub, fan, publish, broker, lost } = setup(1);
    await joined(hub, 'room:k');
    await publish('room:k', 1);
    await publish('room:k', 2);
    await until(() => fan.sent.length === 2);
    const epoch = fan.sent[0]!.push.epoch as string;
    broker.setUp(false);
    await publish('room:k', 3); // missed live
    const failing = gate();
    broker.nextReadFailsAfter = failing.wait; // the fill's first read, in flight
    broker.setUp(true); // re-subscribed: the fill starts
    const recovery = await hub.beginRecovery('room:k', { offset: 0, epoch }); // a broker read: 1..3
    const sent: string[] = [];
    recovery.finish((push) => sent.push(push));
    const joinedAt = fan.sent.length;
    broker.failingReads = 8; // more failures than FILL_ATTEMPTS
    failing.open();
    await until(() => fan.sent.length > joinedAt);
    const afterJoin = fan.sent.slice(joinedAt).map((f) => f.push.offset ?? f.push.event);
    expect({ recovered: recovery.read.recovered, sent: ns(sent), afterJoin, lost }).toEqual({ recovered: true, sent: [1, 2], afterJoin: [3], lost: [] });
  });

  it('a read that goes through after more failures than FILL_ATTEMPTS, with nothing waiting, gives no later gap up', async () => {
    const { hub, fan, publish, broker, lost } = setup();
    await joined(hub, 'room:w');
    await publish('room:w', 1);
    await until(() => fan.sent.length === 1);
    broker.setUp(false);
    await publish('room:w', 2); // missed live
    broker.failingReads = 6; // every attempt of the re-subscribe's fill fails; nothing is held
    const slow = gate();
    broker.nextAnswerWaits = slow.wait; // the 7th read goes through (offsets up to 2), its answer in flight
    broker.setUp(true);
    await until(() => broker.failingReads === 0 && broker.nextAnswerWaits === undefined);
    broker.up = false;
    await publish('room:w', 3); // missed live meanwhile
    broker.up = true;
    await publish('room:w', 4); // arrives skipping 3: held
    slow.open();
    await until(() => fan.sent.length >= 4);
    expect({ fanned: fan.sent.map((s) => s.push.offset ?? s.push.event), lost }).toEqual({ fanned: [1, 2, 3, 4], lost: [] });
  });

  it('subscribes a stream once while any connection holds it', async () => {
    const { hub, broker } = setup();
    await joined(hub, 'guild:9');
    await joined(hub, 'guild:9');
    await until(() => broker.streams().includes('guild:9'));
    hub.release('guild:9');
    expect(hub.counts().get('guild:9')).toBe(1);
    hub.release('guild:9');
    await until(() => !broker.streams().includes('guild:9'));
    expect(hub.counts().size).toBe(0);
  });
});
