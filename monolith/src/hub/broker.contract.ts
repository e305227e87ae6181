import { afterEach, describe, expect, it } from 'vitest';
import type { Broker, HistoryPolicy, Publication } from './broker.js';
// The e2e harness' polling wait (deadline, no fixed sleep), shared by every test.
import { waitFor as poll } from '../../../testing/wait.js';

const waitFor = <T>(check: () => T | Promise<T>, what: string, timeoutMs = 5000) => poll(check, { timeoutMs, intervalMs: 10, what });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface BrokerExtras {
  /** True when brokers made by one factory share streams (several monoliths on one Redis). */
  shared: boolean;
  /** Loses every stream's state at the broker (Redis: FLUSHALL), for the epoch contract. */
  loseStreams?(): Promise<void>;
  /** Drops every broker connection (Redis: CLIENT KILL), for the resubscription contract. */
  dropConnections?(): Promise<void>;
  /** Broker-side subscriber count of a stream, when the broker can tell. */
  brokerSubscribers?(stream: string): Promise<number>;
}

const KEEP: HistoryPolicy = { size: 1000, ttlMs: 60_000 };
let streamSeq = 0;
const newStream = () => `test:${Date.now().toString(36)}:${Math.random().toString(36).slice(2, 8)}:${++streamSeq}`;
const offsets = (pubs: readonly Publication[]) => pubs.map((p) => p.offset);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Everything a broker delivers, per stream. */
function collect(broker: Broker): Map<string, Publication[]> {
  const got = new Map<string, Publication[]>();
  broker.onPublication((stream, pub) => {
    let list = got.get(stream);
    if (!list) got.set(stream, (list = []));
    list.push(pub);
  });
  return got;
}

/** The one contract every Broker implementation passes (STYLE rule 5; broker.ts states it). */
export function describeBroker(name: string, factory: () => Promise<Broker>, extras: BrokerExtras): void {
  describe(`Broker contract: ${name}`, () => {
    const made: Broker[] = [];
    const make = async () => {
      const broker = await factory();
      made.push(broker);
      return broker;
    };
    afterEach(async () => {
      await Promise.all(made.splice(0).map((b) => b.close()));
    });

    it('numbers publications 1, 2, 3... per stream and delivers them in offset order', async () => {
      const broker = await make();
      const got = collect(broker);
      const [a, b] = [newStream(), newStream()];
      await broker.subscribe(a);
      await broker.subscribe(b);
      expect(broker.streams().sort()).toEqual([a, b].sort());
      const results = [];
      for (let i = 0; i < 20; i++) results.push(await broker.publish(i % 2 ? b : a, `{"n":${i}}`, { history: KEEP }));
      expect(results.map((r) => r.offset)).toEqual(range(1, 10).flatMap((n) => [n, n]));
      expect(results.every((r) => !r.duplicate)).toBe(true);
      await waitFor(() => got.get(a)?.length === 10 && got.get(b)?.length === 10, 'both streams delivered');
      expect(offsets(got.get(a)!)).toEqual(range(1, 10));
      expect(got.get(b)!.map((p) => p.data)).toEqual(range(0, 9).map((n) => `{"n":${2 * n + 1}}`));
      expect(new Set(got.get(a)!.map((p) => p.epoch))).toEqual(new Set([results[0]!.epoch]));
    });

    it(`gives offsets exactly 1..N under concurrent publishers${extras.shared ? ' on two brokers' : ''}, and subscribers receive exactly what history holds`, async () => {
      const publishers = extras.shared ? [await make(), await make()] : [await make()];
      const listeners = publishers.map((b) => ({ broker: b, got: collect(b) }));
      const stream = newStream();
      for (const l of listeners) await l.broker.subscribe(stream);
      const n = 300;
      const results = await Promise.all(range(1, n).map((i) => publishers[i % publishers.length]!.publish(stream, `{"i":${i}}`, { history: KEEP })));
      expect(results.map((r) => r.offset).sort((x, y) => x - y)).toEqual(range(1, n));
      expect(new Set(results.map((r) => r.epoch)).size).toBe(1);
      const { position, publications } = await publishers[0]!.history(stream, { limit: n + 10 });
      expect(position).toEqual({ offset: n, epoch: results[0]!.epoch });
      expect(offsets(publications)).toEqual(range(1, n));
      // The data stored at each offset is the data of the publish that was answered that offset.
      const byOffset = new Map(results.map((r, k) => [r.offset, `{"i":${k + 1}}`]));
      expect(publications.every((p) => p.data === byOffset.get(p.offset))).toBe(true);
      for (const { got } of listeners) {
        await waitFor(() => got.get(stream)?.length === n, 'every publication delivered');
        // Append and publish are one step: the live copy equals the stored one, field for field.
        expect(got.get(stream)).toEqual(publications);
      }
    });

    it('keeps at most `size` publications, and none with size 0 (positions still assigned)', async () => {
      const broker = await make();
      const stream = newStream();
      for (let i = 1; i <= 5; i++) await broker.publish(stream, `m${i}`, { history: { size: 3, ttlMs: 60_000 } });
      const all = await broker.history(stream, { limit: 100 });
      expect(all.position.offset).toBe(5);
      expect(offsets(all.publications)).toEqual([3, 4, 5]);
      expect(all.publications.map((p) => p.data)).toEqual(['m3', 'm4', 'm5']);
      // A position older than the window gets what is kept: the first offset shows the gap.
      expect(offsets((await broker.history(stream, { since: 1, limit: 100 })).publications)).toEqual([3, 4, 5]);
      expect(offsets((await broker.history(stream, { since: 3, limit: 100 })).publications)).toEqual([4, 5]);
      expect(offsets((await broker.history(stream, { limit: 2 })).publications)).toEqual([3, 4]);

      const none = newStream();
      const r1 = await broker.publish(none, 'a', { history: { size: 0, ttlMs: 60_000 } });
      const r2 = await broker.publish(none, 'b', { history: { size: 0, ttlMs: 60_000 } });
      expect([r1.offset, r2.offset]).toEqual([1, 2]);
      expect(await broker.history(none, { limit: 100 })).toEqual({ position: { offset: 2, epoch: r1.epoch }, publications: [] });
      // Switching a stream to size 0 drops what it kept.
      await broker.publish(stream, 'm6', { history: { size: 0, ttlMs: 60_000 } });
      expect((await broker.history(stream, { limit: 100 })).publications).toEqual([]);
    });

    it('drops publications older than ttlMs, keeping the position and the epoch', async () => {
      const broker = await make();
      const stream = newStream();
      const policy = { size: 100, ttlMs: 1500 };
      const first = await broker.publish(stream, 'old', { history: policy });
      await sleep(750); // the behaviour under test is age: two publications 750 ms apart
      await broker.publish(stream, 'new', { history: policy });
      const { publications } = await waitFor(async () => {
        const h = await broker.history(stream, { limit: 100 });
        return h.publications.length < 2 ? h : undefined;
      }, 'the older publication to expire');
      expect(offsets(publications)).toEqual([2]);
      await waitFor(async () => (await broker.history(stream, { limit: 100 })).publications.length === 0, 'the newer one to expire');
      // The metadata outlives the history: the position and epoch are unchanged.
      expect((await broker.history(stream, { limit: 100 })).position).toEqual({ offset: 2, epoch: first.epoch });
      const third = await broker.publish(stream, 'again', { history: policy });
      expect(third).toEqual({ offset: 3, epoch: first.epoch, duplicate: false });
      expect(offsets((await broker.history(stream, { limit: 100 })).publications)).toEqual([3]);
    });

    it('reads history after a position, ascending, at most `limit`, with stored times', async () => {
      const broker = await make();
      const stream = newStream();
      const before = Date.now();
      for (let i = 1; i <= 10; i++) await broker.publish(stream, `p${i}`, { history: KEEP });
      const read = (since: number | undefined, limit: number) => broker.history(stream, { since, limit });
      const from4 = await read(4, 3);
      expect(offsets(from4.publications)).toEqual([5, 6, 7]);
      expect(from4.publications.map((p) => p.data)).toEqual(['p5', 'p6', 'p7']);
      expect(offsets((await read(0, 100)).publications)).toEqual(range(1, 10));
      expect(offsets((await read(undefined, 100)).publications)).toEqual(range(1, 10));
      expect((await read(10, 100)).publications).toEqual([]);
      expect((await read(25, 100)).publications).toEqual([]);
      const top = await read(3, 0);
      expect(top.publications).toEqual([]);
      expect(top.position.offset).toBe(10);
      const times = (await read(0, 100)).publications.map((p) => p.time);
      expect(times).toEqual([...times].sort((x, y) => x - y));
      // The broker's clock (Redis TIME) may differ a little from ours.
      expect(times.every((t) => t >= before - 2000 && t <= Date.now() + 2000)).toBe(true);
      await expect(read(-1, 10)).rejects.toThrow(RangeError);
      await expect(read(0, 1.5)).rejects.toThrow(RangeError);
      await expect(broker.publish(stream, 'x', { history: { size: -1, ttlMs: 1000 } })).rejects.toThrow(RangeError);
      await expect(broker.publish(stream, 'x', { history: { size: 1, ttlMs: 0 } })).rejects.toThrow(RangeError);
    });

    it('gives a new stream a stable position before its first publication', async () => {
      const broker = await make();
      const stream = newStream();
      const a = await broker.history(stream, { limit: 10 });
      expect(a.position.offset).toBe(0);
      expect(a.position.epoch.length).toBeGreaterThan(0);
      expect((await broker.history(stream, { limit: 10 })).position).toEqual(a.position);
      expect(await broker.publish(stream, 'x', { history: KEEP })).toEqual({ offset: 1, epoch: a.position.epoch, duplicate: false });
    });

    it('publishes once per idempotency key: a retry gets the first position, marked duplicate', async () => {
      const broker = await make();
      const got = collect(broker);
      const stream = newStream();
      await broker.subscribe(stream);
      const first = await broker.publish(stream, 'a', { history: KEEP, idempotencyKey: 'k1' });
      expect(await broker.publish(stream, 'a', { history: KEEP, idempotencyKey: 'k1' })).toEqual({ ...first, duplicate: true });
      const other = await broker.publish(stream, 'b', { history: KEEP, idempotencyKey: 'k2' });
      expect(other.offset).toBe(first.offset + 1);
      // Concurrent retries: exactly one lands.
      const racing = await Promise.all(range(1, 8).map(() => broker.publish(stream, 'c', { history: KEEP, idempotencyKey: 'k3' })));
      expect(racing.filter((r) => !r.duplicate)).toHaveLength(1);
      expect(new Set(racing.map((r) => `${r.offset} ${r.epoch}`)).size).toBe(1);
      // A key is per stream.
      expect((await broker.publish(newStream(), 'a', { history: KEEP, idempotencyKey: 'k1' })).duplicate).toBe(false);
      await waitFor(() => got.get(stream)?.length === 3, 'three publications delivered');
      const marker = newStream();
      await broker.subscribe(marker);
      await broker.publish(marker, 'm', { history: KEEP });
      await waitFor(() => got.get(marker)?.length === 1, 'the marker');
      expect(got.get(stream)!.map((p) => p.data)).toEqual(['a', 'b', 'c']);
      expect(offsets((await broker.history(stream, { limit: 100 })).publications)).toEqual([1, 2, 3]);
    });

    it('stops delivering a stream once unsubscribed, and delivers only subscribed streams', async () => {
      const broker = await make();
      const got = collect(broker);
      const [s, quiet, marker] = [newStream(), newStream(), newStream()];
      await broker.subscribe(s);
      if (extras.brokerSubscribers) expect(await extras.brokerSubscribers(s)).toBe(1);
      await broker.publish(s, 'before', { history: KEEP });
      await broker.publish(quiet, 'never', { history: KEEP });
      await waitFor(() => got.get(s)?.length === 1, 'the first publication');
      await broker.unsubscribe(s);
      expect(broker.streams()).not.toContain(s);
      if (extras.brokerSubscribers) expect(await extras.brokerSubscribers(s)).toBe(0);
      await broker.subscribe(marker);
      await broker.publish(s, 'after', { history: KEEP });
      await broker.publish(marker, 'm', { history: KEEP });
      await waitFor(() => got.get(marker)?.length === 1, 'the marker');
      expect(got.get(s)!.map((p) => p.data)).toEqual(['before']);
      expect(got.has(quiet)).toBe(false);
      await broker.unsubscribe(s); // not subscribed: ignored
    });

    if (extras.shared) {
      it('delivers to subscribers on another broker (another monolith)', async () => {
        const [a, b] = [await make(), await make()];
        const got = collect(b);
        const stream = newStream();
        await b.subscribe(stream);
        const r = await a.publish(stream, 'hello', { history: KEEP });
        await waitFor(() => got.get(stream)?.length === 1, 'the publication on the other broker');
        expect(got.get(stream)![0]).toMatchObject({ offset: r.offset, epoch: r.epoch, data: 'hello' });
      });
    }

    if (extras.loseStreams) {
      it('changes the epoch when the stream is lost, and numbers from 1 again', async () => {
        const broker = await make();
        const got = collect(broker);
        const stream = newStream();
        await broker.subscribe(stream);
        const before = await broker.publish(stream, 'a', { history: KEEP });
        await broker.publish(stream, 'b', { history: KEEP });
        await extras.loseStreams!();
        const lost = await broker.history(stream, { limit: 100 });
        expect(lost.position.offset).toBe(0);
        expect(lost.position.epoch).not.toBe(before.epoch);
        expect(lost.publications).toEqual([]);
        const after = await broker.publish(stream, 'c', { history: KEEP });
        expect(after).toEqual({ offset: 1, epoch: lost.position.epoch, duplicate: false });
        await waitFor(() => got.get(stream)?.length === 3, 'live delivery across the loss');
        expect(got.get(stream)!.map((p) => `${p.offset} ${p.epoch === before.epoch ? 'old' : 'new'}`)).toEqual(['1 old', '2 old', '1 new']);
      });
    }

    if (extras.dropConnections) {
      it('subscribes every stream again after a dropped connection, then reports connected', async () => {
        const broker = await make();
        const got = collect(broker);
        const changes: boolean[] = [];
        broker.onConnectionChange((up) => changes.push(up));
        const resubscribed: string[] = [];
        const [s1, s2] = [newStream(), newStream()];
        await broker.subscribe(s1);
        await broker.subscribe(s2);
        await waitFor(() => broker.connected, 'connected');
        broker.onResubscribed((streams) => resubscribed.push(...streams));
        await extras.dropConnections!();
        await waitFor(() => changes.includes(false), 'the drop to be noticed');
        await waitFor(() => changes.at(-1) === true && broker.connected, 'reconnected and resubscribed');
        // Subscribed before `true` fired: a publication now reaches both streams.
        await broker.publish(s1, 'x', { history: KEEP });
        await broker.publish(s2, 'y', { history: KEEP });
        await waitFor(() => got.get(s1)?.length === 1 && got.get(s2)?.length === 1, 'delivery after the resubscription');
        if (extras.brokerSubscribers) {
          expect(await extras.brokerSubscribers(s1)).toBe(1);
          expect(await extras.brokerSubscribers(s2)).toBe(1);
        }
        expect(broker.streams().sort()).toEqual([s1, s2].sort());
        // Each lost stream is named once, after it is live again: the hub fills its gap once.
        expect(resubscribed.filter((s) => s === s1 || s === s2).sort()).toEqual([s1, s2].sort());
      });
    }
  });
}
