import { afterAll, describe, expect, it } from 'vitest';
import {
  connect,
  startBalancer,
  startMonolith,
  startRedis,
  uniq,
  useHarness,
  userToken,
  waitFor,
  waitForLinks,
  type BalancerHandle,
  type TestClient,
} from '../harness/index.js';
import { broadcastTo, readyOf } from '../harness/gateway-http.js';
import { roomOn } from '../harness/placement.js';
import { RECOVER_ONLY, recoverLive } from '../harness/streams.js';
import { startTcpGate, type TcpGate } from '../harness/tcp-gate.js';

useHarness();

const gates: TcpGate[] = [];
const toStop: Array<{ stop(): Promise<unknown> }> = [];
afterAll(async () => {
  await Promise.all(toStop.map((h) => h.stop()));
  await Promise.all(gates.map((g) => g.close()));
});

async function join(balancer: BalancerHandle, room: string): Promise<{ c: TestClient; monolith: string }> {
  const c = await connect(balancer.url());
  const welcome = await c.auth(await userToken(), room);
  return { c, monolith: String(welcome.data.monolith) };
}

/** The `monolith` of the newest welcome a client received. */
function servedBy(c: TestClient): string {
  const welcomes = c.received.filter((m) => m.event === 'welcome');
  return String(welcomes.at(-1)!.data.monolith);
}

const count = (c: TestClient, event: string): number => c.received.filter((m) => m.event === event).length;

describe('two monoliths claiming one room', () => {
  it('converges on the older epoch: the balancer that placed members on the newer claim moves them, none is lost', async () => {
    const redis = await startRedis();
    // A long grace keeps the losing monolith's (empty) room loaded, so its claim stays in gossip;
    // moved members get the broadcasts only by `recover`ing (RECOVER_ONLY).
    const env = { ...RECOVER_ONLY, ROOM_UNLOAD_GRACE_MS: '60000' };
    const [m1, m2] = await Promise.all([startMonolith({ redisUrl: redis.url, env }), startMonolith({ redisUrl: redis.url, env })]);
    toStop.push(m1, m2, redis);
    // Each balancer lists both monoliths, but reaches one of them only through a gate that is
    // closed for now: A sees m1 only, B sees m2 only (discovery not yet converged, a partition).
    const [toM1, toM2] = await Promise.all([startTcpGate(m1.linkAddress), startTcpGate(m2.linkAddress)]);
    gates.push(toM1, toM2);
    const a = await startBalancer({ monoliths: [m1.linkAddress, toM2.address], waitForMonoliths: 1 });
    const b = await startBalancer({ monoliths: [m2.linkAddress, toM1.address], waitForMonoliths: 1 });
    toStop.push(a, b);
    for (const balancer of [a, b]) expect((await readyOf(balancer.http)).body).toMatchObject({ monoliths: 1 });
    await waitFor(() => toM1.refused > 0 && toM2.refused > 0, { what: 'both balancers dialing through the closed gates' });

    const room = uniq('contested');
    const onA = [await join(a, room), await join(a, room), await join(a, room)];
    for (const j of onA) expect(j.monolith).toBe(m1.id);
    // m1's epoch is taken (its `loaded` reached A) before m2 loads the room: m1's claim is older.
    await waitFor(async () => (await a.metric('gateway_balancer_owned_rooms')) === 1, { what: "m1's loaded claim on balancer A" });
    const onB = [await join(b, room), await join(b, room), await join(b, room)];
    for (const j of onB) expect(j.monolith).toBe(m2.id);
    await waitFor(async () => (await b.metric('gateway_balancer_owned_rooms')) === 1, { what: "m2's loaded claim on balancer B" });
    // Split brain: each monolith holds the room with its own balancer's members.
    expect(await m1.metric('gateway_monolith_connections')).toBe(3);
    expect(await m2.metric('gateway_monolith_connections')).toBe(3);

    toM1.open();
    toM2.open();
    await Promise.all([waitForLinks(a, 2), waitForLinks(b, 2)]);
    // B learns m1's older claim from m1's gossip and moves its members: welcome + resync, then
    // `recover` (as clients do on resync) joins them to the room's stream on m1.
    for (const { c } of onB) {
      expect((await c.nextEvent('welcome', undefined, 10_000)).data).toMatchObject({ monolith: m1.id, room });
      await c.nextEvent('resync');
      await recoverLive(c);
    }
    await waitFor(async () => (await m1.metric('gateway_monolith_connections')) === 6 && (await m2.metric('gateway_monolith_connections')) === 0, {
      what: 'all six members on m1, none left on m2',
    });

    // A balancer that starts now sees both claims in gossip and places newcomers on the winner.
    const c = await startBalancer({ monoliths: [m1, m2] });
    toStop.push(c);
    const onC = [await join(c, room), await join(c, room)];
    // Newcomers through A and B go to the winner too.
    const late = [await join(a, room), await join(b, room)];
    const members = [...onA, ...onB, ...onC, ...late];
    for (const j of [...onC, ...late]) expect(j.monolith).toBe(m1.id);
    for (const j of members) expect(servedBy(j.c), j.c.url).toBe(m1.id);
    for (const j of onA) expect(count(j.c, 'welcome')).toBe(1);
    expect(await m1.metric('gateway_monolith_connections')).toBe(members.length);
    expect(await m2.metric('gateway_monolith_connections')).toBe(0);

    // Every member gets a room broadcast exactly once (m2, still subscribed to the room's
    // topic, has no members to send it to). `second` follows `first` on the same path.
    expect(await broadcastTo(m2, room, 'first')).toBe(202);
    expect(await broadcastTo(m2, room, 'second')).toBe(202);
    for (const { c: client } of members) {
      await client.nextEvent('second');
      expect(await client.request('ping', 'p')).toMatchObject({ event: 'pong' });
      expect(count(client, 'first'), client.url).toBe(1);
      expect(count(client, 'second'), client.url).toBe(1);
      expect(client.isClosed).toBe(false);
    }
    for (const { c: client } of members) client.close();
  }, 60_000);

  it('heals a split caused by a partition: members failed over to the newer claim move back to the older one', async () => {
    const redis = await startRedis();
    // Moved members get the broadcasts only by `recover`ing (RECOVER_ONLY).
    const [m1, m2] = await Promise.all([startMonolith({ redisUrl: redis.url, env: RECOVER_ONLY }), startMonolith({ redisUrl: redis.url, env: RECOVER_ONLY })]);
    toStop.push(m1, m2, redis);
    const toM1 = await startTcpGate(m1.linkAddress);
    gates.push(toM1);
    toM1.open();
    const a = await startBalancer({ monoliths: [m1, m2] });
    const b = await startBalancer({ monoliths: [toM1.address, m2.linkAddress] });
    toStop.push(a, b);
    // A room owned by m1 (both balancers link both monoliths), with members through both.
    const room = roomOn(m1, [m1, m2], 'split');
    const onA = [await join(a, room), await join(a, room)];
    const onB = [await join(b, room), await join(b, room)];
    for (const j of [...onA, ...onB]) expect(j.monolith).toBe(m1.id);

    // B loses m1 (its link only): B's members fail over to m2, which loads the room anew.
    toM1.shut();
    for (const { c } of onB) {
      expect((await c.nextEvent('welcome', undefined, 10_000)).data.monolith).toBe(m2.id);
      await c.nextEvent('resync');
      await recoverLive(c, 'recover-m2');
    }
    await waitFor(async () => (await m1.metric('gateway_monolith_connections')) === 2 && (await m2.metric('gateway_monolith_connections')) === 2, {
      what: "the room split: A's members on m1, B's on m2",
    });

    // The partition heals: m1's gossip carries the older claim, B moves its members back.
    toM1.open();
    await waitForLinks(b, 2);
    for (const { c } of onB) {
      expect((await c.nextEvent('welcome', undefined, 10_000)).data.monolith).toBe(m1.id);
      await c.nextEvent('resync');
      await recoverLive(c, 'recover-m1');
    }
    await waitFor(async () => (await m1.metric('gateway_monolith_connections')) === 4 && (await m2.metric('gateway_monolith_connections')) === 0, {
      what: 'all four members back on m1',
    });
    const members = [...onA, ...onB];
    for (const j of members) expect(servedBy(j.c)).toBe(m1.id);
    for (const j of onA) expect([count(j.c, 'welcome'), count(j.c, 'resync')]).toEqual([1, 0]);
    for (const j of onB) expect([count(j.c, 'welcome'), count(j.c, 'resync')]).toEqual([3, 2]);
    expect(await broadcastTo(m2, room, 'first')).toBe(202);
    expect(await broadcastTo(m2, room, 'second')).toBe(202);
    for (const { c } of members) {
      await c.nextEvent('second');
      expect([count(c, 'first'), count(c, 'second'), c.isClosed]).toEqual([1, 1, false]);
      c.close();
    }
  }, 60_000);
});
