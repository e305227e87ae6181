import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { REGISTRY_KEY } from '@gateway/protocol';
import {
  connect,
  startBalancer,
  startMonolith,
  startRedis,
  uniq,
  useHarness,
  userToken,
  waitFor,
  type BalancerHandle,
  type MonolithHandle,
  type TestClient,
} from '../harness/index.js';
import { metricSeries, readyOf } from '../harness/gateway-http.js';
import { roomOn } from '../harness/placement.js';

useHarness();

const toStop: Array<{ stop(): Promise<unknown> }> = [];
let redisClient: Redis | undefined;
afterAll(async () => {
  redisClient?.disconnect();
  await Promise.all(toStop.map((h) => h.stop()));
});

/** `gateway_balancer_link_up` by address: 1 ready, 0 dialing; absent once discovery dropped it. */
async function links(balancer: BalancerHandle): Promise<Map<string, number>> {
  return new Map((await metricSeries(balancer.admin, 'gateway_balancer_link_up')).map((s) => [s.labels.address!, s.value]));
}

async function join(balancer: BalancerHandle, room: string): Promise<{ c: TestClient; monolith: string }> {
  const c = await connect(balancer.url());
  const welcome = await c.auth(await userToken(), room);
  return { c, monolith: String(welcome.data.monolith) };
}

/** A client in a fresh room that the balancer, linked to `linked`, places on `monolith`. */
async function clientOn(balancer: BalancerHandle, monolith: MonolithHandle, linked: MonolithHandle[]): Promise<TestClient> {
  const j = await join(balancer, roomOn(monolith, linked, 'place'));
  expect(j.monolith).toBe(monolith.id);
  return j.c;
}

describe('Redis registry discovery (MONOLITH_REGISTRY)', () => {
  it('links monoliths that register at run time and unlinks them on drain or after their TTL, without a balancer restart', async () => {
    // The registry is one global key: use a Redis of our own, never a shared REDIS_URL.
    const redis = await startRedis({ external: false });
    toStop.push(redis);
    redisClient = new Redis(redis.url);
    const registered = (): Promise<string[]> => redisClient!.zrange(REGISTRY_KEY, 0, -1);
    const monolith = (): Promise<MonolithHandle> =>
      startMonolith({ redisUrl: redis.url, env: { REGISTRY_ADDRESS: '127.0.0.1:0', REGISTRY_TTL_MS: '1000' } });

    const balancer = await startBalancer({
      monoliths: [],
      omit: ['MONOLITHS'],
      env: { MONOLITH_REGISTRY: redis.url, REGISTRY_POLL_MS: '200' },
      waitForMonoliths: 0,
    });
    toStop.push(balancer);
    expect(await readyOf(balancer.http)).toMatchObject({ status: 503, body: { monoliths: 0 } });

    // Port 0 in REGISTRY_ADDRESS stands for the bound link port.
    const m1 = await monolith();
    toStop.push(m1);
    // The first heartbeat is asynchronous: wait for it rather than expect it by the ready line.
    await waitFor(async () => (await registered()).join() === `${m1.id} ${m1.linkAddress}`, { what: "m1's registry entry" });
    await waitFor(async () => (await links(balancer)).get(m1.linkAddress) === 1, { what: 'm1 linked from the registry' });
    const stays = await join(balancer, uniq('stays'));
    expect(stays.monolith).toBe(m1.id);

    // Added at run time: linked, and new rooms are placed on it.
    const m2 = await monolith();
    await waitFor(async () => (await links(balancer)).get(m2.linkAddress) === 1, { what: 'm2 linked from the registry' });
    expect(await readyOf(balancer.http)).toMatchObject({ status: 200, body: { monoliths: 2 } });
    const onM2 = await clientOn(balancer, m2, [m1, m2]);

    // SIGTERM: m2 removes its entry and drains; its client moves to m1 without a disconnect.
    const exited = m2.stop(10_000);
    expect((await onM2.nextEvent('welcome', undefined, 10_000)).data.monolith).toBe(m1.id);
    await onM2.nextEvent('resync');
    expect((await exited).code).toBe(0);
    expect(await registered()).toEqual([`${m1.id} ${m1.linkAddress}`]);
    await waitFor(async () => !(await links(balancer)).has(m2.linkAddress), { what: "m2's address dropped by discovery" });

    // SIGKILL: nobody removes m3's entry; the balancer unlinks it once the entry expires.
    const m3 = await monolith();
    toStop.push(m3);
    await waitFor(async () => (await links(balancer)).get(m3.linkAddress) === 1, { what: 'm3 linked from the registry' });
    const onM3 = await clientOn(balancer, m3, [m1, m3]);
    await m3.kill();
    expect((await onM3.nextEvent('welcome', undefined, 10_000)).data.monolith).toBe(m1.id);
    await onM3.nextEvent('resync');
    await balancer.proc.waitForLine(
      (l) => (l.text.includes('monolith removed by discovery') && l.text.includes(m3.linkAddress) ? true : undefined),
      10_000,
      "m3's expired entry removed by discovery",
    );
    expect([...(await links(balancer)).keys()]).toEqual([m1.linkAddress]);
    expect(await readyOf(balancer.http)).toMatchObject({ status: 200, body: { monoliths: 1 } });

    // One balancer process throughout, and every client still connected and served.
    expect(balancer.proc.exit).toBeUndefined();
    for (const [i, c] of [stays.c, onM2, onM3].entries()) {
      expect(c.isClosed).toBe(false);
      expect(await c.request('ping', i)).toMatchObject({ event: 'pong', _id: i });
      c.close();
    }
  }, 60_000);
});

describe('Redis registry discovery across a Redis restart', () => {
  it('keeps its monoliths linked and its clients connected while the registry is empty after the restart', async () => {
    let redis = await startRedis({ external: false });
    const port = Number(new URL(redis.url).port);
    const env = { REGISTRY_ADDRESS: '127.0.0.1:0', REGISTRY_TTL_MS: '3000' };
    const [m1, m2] = await Promise.all([startMonolith({ redisUrl: redis.url, env }), startMonolith({ redisUrl: redis.url, env })]);
    toStop.push(m1, m2);
    const balancer = await startBalancer({
      monoliths: [],
      omit: ['MONOLITHS'],
      env: { MONOLITH_REGISTRY: redis.url, REGISTRY_POLL_MS: '200' },
      waitForMonoliths: 2,
    });
    toStop.push(balancer);
    const clients = [await clientOn(balancer, m1, [m1, m2]), await clientOn(balancer, m2, [m1, m2])];

    // A restarted Redis (persistence off) has no registry until each monolith's next heartbeat.
    await redis.kill();
    redis = await startRedis({ port, external: false });
    toStop.push(redis);
    const check = new Redis(redis.url);
    try {
      await waitFor(async () => (await check.zcard(REGISTRY_KEY)) === 2, { timeoutMs: 20_000, what: 'both monoliths registered again' });
    } finally {
      check.disconnect();
    }
    // A registry read that succeeds but finds nobody (yet) must not unlink live monoliths.
    for (const [i, c] of clients.entries()) {
      expect(c.isClosed, `client ${i} closed: ${JSON.stringify(c.isClosed ? await c.closed() : null)}`).toBe(false);
      expect(await c.request('ping', i)).toMatchObject({ event: 'pong', _id: i });
      expect(c.received.filter((m) => m.event === 'resync')).toEqual([]);
    }
    expect(await readyOf(balancer.http)).toMatchObject({ status: 200, body: { monoliths: 2 } });
  }, 60_000);
});

describe('DNS discovery (MONOLITH_DNS)', () => {
  it('links the monolith behind a host name and serves clients through it', async () => {
    const m = await startMonolith();
    toStop.push(m);
    const balancer = await startBalancer({
      monoliths: [],
      omit: ['MONOLITHS'],
      env: { MONOLITH_DNS: `localhost:${m.linkPort}`, DNS_POLL_MS: '200' },
      waitForMonoliths: 1,
    });
    toStop.push(balancer);
    // localhost resolves to 127.0.0.1 (and maybe ::1, where nothing listens: that link stays down).
    const up = await links(balancer);
    expect(up.get(m.linkAddress)).toBe(1);
    for (const address of up.keys()) expect([m.linkAddress, `[::1]:${m.linkPort}`]).toContain(address);
    const j = await join(balancer, uniq('dns'));
    expect(j.monolith).toBe(m.id);
    expect(await j.c.request('ping', 1)).toMatchObject({ event: 'pong', _id: 1 });
    j.c.close();
  });
});
