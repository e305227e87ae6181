import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The e2e harness' redis-server (a child on a free port, or REDIS_URL): one helper for all tests.
import { standaloneTopology, startRedis, type RedisHandle } from '../../../testing/redis.js';
import { waitFor } from '../../../testing/wait.js';
import { IDEMPOTENCY_TTL_MS, STREAM_META_MIN_TTL_MS, type Broker, type Publication } from './broker.js';
import { describeBroker } from './broker.contract.js';
import { createBroker } from './create-broker.js';
import { createLog } from '@gateway/server-kit';
import { MemoryBroker } from './memory-broker.js';
import { PUBLISH_SCRIPT, RedisBroker, streamKeys } from './redis-broker.js';

const KEEP = { size: 100, ttlMs: 60_000 };
const log = createLog('test', 'error');
const wait = <T>(fn: () => T | Promise<T>, what: string) => waitFor(fn, { timeoutMs: 10_000, intervalMs: 10, what });
const stream = () => `unit:${Math.random().toString(36).slice(2)}`;

function collect(broker: Broker): Publication[] {
  const got: Publication[] = [];
  broker.onPublication((_s, p) => got.push(p));
  return got;
}

describeBroker('memory', async () => new MemoryBroker(), { shared: false });

describe('memory broker', () => {
  it('delivers after the publish call returns (a later microtask), never inside it', async () => {
    const broker = new MemoryBroker();
    const got = collect(broker);
    const s = stream();
    await broker.subscribe(s);
    const pending = broker.publish(s, 'x', { history: KEEP });
    expect(got).toEqual([]);
    await pending;
    await wait(() => got.length === 1, 'delivery');
  });

  it('gives a new epoch once the metadata expired, forgets idempotency keys after their TTL, and sweeps expired streams', async () => {
    let now = 1_700_000_000_000;
    const broker = new MemoryBroker(() => now);
    const s = stream();
    const first = await broker.publish(s, 'a', { history: { size: 10, ttlMs: 1000 }, idempotencyKey: 'k' });
    now += IDEMPOTENCY_TTL_MS;
    expect(await broker.publish(s, 'b', { history: { size: 10, ttlMs: 1000 }, idempotencyKey: 'k' })).toEqual({ offset: 2, epoch: first.epoch, duplicate: false });
    now += STREAM_META_MIN_TTL_MS - 1;
    expect(await broker.history(s, { limit: 10 })).toEqual({ position: { offset: 2, epoch: first.epoch }, publications: [] });
    now += 2;
    const lost = await broker.history(s, { limit: 10 });
    expect(lost.position.offset).toBe(0);
    expect(lost.position.epoch).not.toBe(first.epoch);

    for (let i = 0; i < 3000; i++) await broker.publish(`old:${i}`, 'x', { history: KEEP });
    expect(broker.heldStreams).toBeGreaterThan(3000);
    now += STREAM_META_MIN_TTL_MS + 1;
    for (let i = 0; i < 2100; i++) await broker.publish(`new:${i}`, 'x', { history: KEEP });
    expect(broker.heldStreams).toBeLessThan(2200);
  });
});

describe('createBroker', () => {
  it('picks memory without a Redis topology and Redis with one', async () => {
    expect(createBroker(undefined, log)).toBeInstanceOf(MemoryBroker);
    const redis = createBroker(standaloneTopology('redis://127.0.0.1:1'), log);
    expect(redis).toBeInstanceOf(RedisBroker);
    await redis.close();
  });
});

describe('redis broker', () => {
  let redis: RedisHandle;
  let admin: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
  });
  const killBrokerConnections = async () => {
    const list = (await admin.client('LIST')) as string;
    for (const line of list.split('\n')) {
      const id = /\bid=(\d+)/.exec(line)?.[1];
      if (id && / name=gateway-broker(-sub)? /.test(line)) await admin.client('KILL', 'ID', id);
    }
  };

  describeBroker('redis', async () => RedisBroker.connect(redis.topology, log), {
    shared: true,
    // FLUSHALL only on our own server: a REDIS_URL one may hold others' data.
    loseStreams: process.env.REDIS_URL ? undefined : async () => void (await admin.flushall()),
    dropConnections: killBrokerConnections,
    async brokerSubscribers(s) {
      const [, n] = (await admin.pubsub('NUMSUB', streamKeys(s).channel)) as [string, number];
      return Number(n);
    },
  });

  it('writes the layout redis-broker.ts documents and publishes `<offset> <epoch> <time>\\n<data>`', async () => {
    const s = stream();
    const k = streamKeys(s);
    const raw = new Redis(redis.url);
    const messages: string[] = [];
    raw.on('message', (_c: string, m: string) => messages.push(m));
    await raw.subscribe(k.channel);
    const broker = RedisBroker.connect(redis.topology, log);
    try {
      const r = await broker.publish(s, '{"event":"e","data":1}', { history: { size: 10, ttlMs: 60_000 }, idempotencyKey: 'key-1' });
      expect(Object.values(k).filter((v) => typeof v === 'string').every((key) => key.startsWith(`gw:{${s}}`))).toBe(true);
      expect(await admin.hgetall(k.meta)).toEqual({ e: r.epoch, o: '1', l: '60000' });
      expect(await admin.pttl(k.meta)).toBeGreaterThan(STREAM_META_MIN_TTL_MS - 60_000);
      const entries = (await admin.xrange(k.history, '-', '+')) as Array<[string, string[]]>;
      expect(entries).toHaveLength(1);
      const [id, fields] = entries[0]!;
      expect(id).toBe('1-0');
      expect(fields[0]).toBe('t');
      expect(fields.slice(2)).toEqual(['d', '{"event":"e","data":1}']);
      const pttl = await admin.pttl(k.history);
      expect(pttl > 0 && pttl <= 60_000).toBe(true);
      expect(await admin.get(k.idempotency('key-1'))).toBe(`1 ${r.epoch}`);
      expect(await admin.pttl(k.idempotency('key-1'))).toBeLessThanOrEqual(IDEMPOTENCY_TTL_MS);
      await wait(() => messages.length === 1, 'the raw channel message');
      expect(messages[0]).toBe(`1 ${r.epoch} ${fields[1]}\n{"event":"e","data":1}`);
      // Services publish with positions by running the same script.
      const argv = [k.channel, '{"event":"e","data":2}', 10, 60_000, STREAM_META_MIN_TTL_MS, IDEMPOTENCY_TTL_MS];
      expect(await admin.eval(PUBLISH_SCRIPT, 2, k.meta, k.history, ...argv)).toEqual([`2 ${r.epoch}`, 0]);
      expect((await broker.history(s, { limit: 10 })).publications.map((p) => p.offset)).toEqual([1, 2]);
    } finally {
      raw.disconnect();
      await broker.close();
    }
  });

  it('drops a raw PUBLISH on a stream channel (no position) and delivers the script\'s publications', async () => {
    const s = stream();
    const broker = RedisBroker.connect(redis.topology, log);
    try {
      const got = collect(broker);
      await broker.subscribe(s);
      for (const junk of ['hello', '1 e 5', 'x y z\n{}', '0 e 1\n{}']) await admin.publish(streamKeys(s).channel, junk);
      await broker.publish(s, '{"event":"ok"}', { history: { size: 10, ttlMs: 60_000 } });
      await wait(() => got.length >= 1, 'the stored publication');
      expect(got.map((g) => g.data)).toEqual(['{"event":"ok"}']);
    } finally {
      await broker.close();
    }
  });

  // Retried: between the kill and the restart on the same port, a redis-server that another test
  // file starts (in parallel) can take the freed port, and the broker then reconnects to that one
  // (failed on Node 22 in two full CI runs out of many; never alone).
  it.skipIf(process.env.REDIS_URL)('rejects publishes at once while Redis is down; after a restart without persistence: resubscribed, new epoch', { timeout: 30_000, retry: 2 }, async () => {
    const broker = RedisBroker.connect(redis.topology, log);
    const got = collect(broker);
    const changes: boolean[] = [];
    broker.onConnectionChange((up) => changes.push(up));
    const s = stream();
    try {
      await broker.subscribe(s);
      const before = await broker.publish(s, 'a', { history: KEEP });
      await broker.publish(s, 'b', { history: KEEP });
      const port = Number(new URL(redis.url).port);
      await redis.kill();
      await wait(() => !broker.connected, 'the outage to be noticed');
      for (const attempt of [() => broker.publish(s, 'lost', { history: KEEP }), () => broker.history(s, { limit: 10 })]) {
        const start = Date.now();
        await expect(attempt()).rejects.toThrow();
        expect(Date.now() - start).toBeLessThan(200);
      }
      redis = await startRedis({ port, external: false });
      await wait(() => broker.connected && changes.at(-1) === true, 'reconnected and resubscribed');
      const after = await broker.history(s, { limit: 10 });
      expect(after.position.offset).toBe(0);
      expect(after.position.epoch).not.toBe(before.epoch);
      expect(await broker.publish(s, 'c', { history: KEEP })).toEqual({ offset: 1, epoch: after.position.epoch, duplicate: false });
      await wait(() => got.some((p) => p.data === 'c'), 'live delivery after the restart');
      // Live pub/sub is at most once: 'b' can die with the killed Redis (see the next test).
      expect(['a,b,c', 'a,c']).toContain(got.map((p) => p.data).join());
    } finally {
      await broker.close();
    }
  }); // timeout: a Redis kill and restart: reconnects back off up to 5 s (redisRetryDelay)

  it('keeps history, epoch and idempotency keys across a crash of a Redis with appendonly persistence', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'broker-aof-'));
    let server = await startRedis({ external: false, appendOnlyDir: dir });
    const port = Number(new URL(server.url).port);
    const broker = RedisBroker.connect(server.topology, log);
    const got = collect(broker);
    const resubscribed: string[] = [];
    broker.onResubscribed((streams) => resubscribed.push(...streams));
    const s = stream();
    try {
      await broker.subscribe(s);
      const first = await broker.publish(s, 'p1', { history: KEEP, idempotencyKey: 'once' });
      for (let i = 2; i <= 5; i++) await broker.publish(s, `p${i}`, { history: KEEP });
      await server.kill(); // SIGKILL: no shutdown save; appendfsync always has every reply on disk
      await wait(() => !broker.connected, 'the crash to be noticed');
      server = await startRedis({ port, external: false, appendOnlyDir: dir });
      await wait(() => broker.connected, 'reconnected');
      expect(resubscribed).toEqual([s]); // what the hub fills from history
      const h = await broker.history(s, { limit: 10 });
      expect(h.position).toEqual({ offset: 5, epoch: first.epoch });
      expect(h.publications.map((p) => p.data)).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
      expect(await broker.publish(s, 'p1', { history: KEEP, idempotencyKey: 'once' })).toEqual({ ...first, duplicate: true });
      expect(await broker.publish(s, 'p6', { history: KEEP })).toEqual({ offset: 6, epoch: first.epoch, duplicate: false });
      await wait(() => got.some((p) => p.data === 'p6'), 'live delivery after the restart');
      // Live pub/sub is at most once: p5's message can die with the killed Redis (seen about one
      // run in four with the other core busy: delivered p1-p4 and p6). The history above holds it,
      // and the hub reads it from there when the subscriber names the stream as re-subscribed.
      const live = got.map((p) => p.data);
      expect(live.slice(0, 4)).toEqual(['p1', 'p2', 'p3', 'p4']);
      expect(live.slice(4)).toEqual(live.length === 6 ? ['p5', 'p6'] : ['p6']);
    } finally {
      await broker.close();
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000); // a Redis kill and restart: reconnects back off up to 5 s (redisRetryDelay)
});
