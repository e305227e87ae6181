import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connect,
  guestToken,
  startBalancer,
  startMonolith,
  startStack,
  uniq,
  useHarness,
  userToken,
  waitFor,
  type BalancerHandle,
  type Stack,
  type TestClient,
} from '../harness/index.js';
import { placement, roomOn, subjectOn } from '../harness/placement.js';

useHarness();

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ monoliths: 2, balancers: 2 });
});
afterAll(async () => {
  await stack?.stop();
});

async function join(balancer: number, room: string | undefined, sub = uniq('u'), path?: string): Promise<{ client: TestClient; monolith: string; id: string }> {
  const client = await connect(stack.balancers[balancer]!.url(path));
  const welcome = await client.auth(await userToken({ sub }), room);
  return { client, monolith: welcome.data.monolith, id: welcome.data.id };
}

describe('rendezvous placement', () => {
  it('routes a room to the same monolith from both balancers', async () => {
    const rooms = Array.from({ length: 12 }, (_, i) => uniq(`agree${i}`));
    const seen = new Set<string>();
    for (const room of rooms) {
      const [a, b] = await Promise.all([join(0, room), join(1, room)]);
      expect(b.monolith, `room ${room}`).toBe(a.monolith);
      // Exactly rendezvous over the linked monolith ids: what e2e/harness/placement.ts computes.
      expect(a.monolith, `room ${room}`).toBe(placement(room, stack.monoliths));
      seen.add(a.monolith);
      a.client.close();
      b.client.close();
    }
    // 12 rooms over 2 monoliths all landing on one has probability 2^-11: placement spreads.
    expect([...seen].sort()).toEqual(stack.monoliths.map((m) => m.id).sort());
  });

  it("puts a user's sockets on both balancers on one monolith (user:<sub>)", async () => {
    const sub = uniq('tabs');
    const [a, b] = await Promise.all([join(0, undefined, sub), join(1, undefined, sub)]);
    expect(a.monolith).toBe(b.monolith);
    a.client.close();
    b.client.close();
  });

  it('routes a room named in the URL path like the same room named in the auth frame', async () => {
    const room = uniq('pathroom');
    const viaFrame = await join(0, room);
    const viaPath = await join(1, undefined, uniq('u'), `/api/room/${room}`);
    expect(viaPath.monolith).toBe(viaFrame.monolith);
    viaFrame.client.close();
    viaPath.client.close();
  });

  it('serves rooms owned by different monoliths side by side', async () => {
    const byMonolith = new Map<string, { client: TestClient; room: string }>();
    for (const [i, m] of stack.monoliths.entries()) {
      const room = roomOn(m, stack.monoliths, 'side');
      const j = await join(i % 2, room);
      expect(j.monolith).toBe(m.id);
      byMonolith.set(j.monolith, { client: j.client, room });
    }
    let n = 0;
    for (const { client } of byMonolith.values()) {
      n++;
      expect(await client.request('ping', n, { n })).toEqual({ event: 'pong', _id: n, data: { n } });
      client.close();
    }
  });

  it('gives every connection a distinct id across balancers', async () => {
    const room = uniq('ids');
    const joined = await Promise.all([0, 1, 0, 1, 0, 1].map((b) => join(b, room)));
    expect(new Set(joined.map((j) => j.id)).size).toBe(joined.length);
    for (const j of joined) j.client.close();
  });
});

describe('announced ownership', () => {
  it('routes to the monolith that announced the room, over the hash choice', async () => {
    // b1 sees only m1; b2 sees m1 and m2. Rooms unload as soon as they are empty.
    const env = { ROOM_UNLOAD_GRACE_MS: '0' };
    const [m1, m2] = await Promise.all([startMonolith({ env }), startMonolith({ env })]);
    const [b1, b2] = await Promise.all([startBalancer({ monoliths: [m1] }), startBalancer({ monoliths: [m1, m2] })]);
    const ownedOn = (b: BalancerHandle) => b.metric('gateway_balancer_owned_rooms');

    // A room that b2 places on m2 by hashing; b2 knows no owners yet.
    const room = roomOn(m2, [m1, m2], 'owned');
    expect(await ownedOn(b2)).toBe(0);

    // m1 loads it through b1 and announces `loaded` to b2 as well.
    const first = await connect(b1.url());
    expect((await first.auth(await userToken({ sub: uniq('first') }), room)).data.monolith).toBe(m1.id);
    await waitFor(async () => (await ownedOn(b2)) === 1, { what: 'b2 learnt the owner of the room' });

    const second = await connect(b2.url());
    expect((await second.auth(await userToken({ sub: uniq('second') }), room)).data.monolith).toBe(m1.id);

    // A balancer that starts later learns the owner from the gossip sent on link-up.
    const b3 = await startBalancer({ monoliths: [m1, m2] });
    await waitFor(async () => (await ownedOn(b3)) === 1, { what: 'b3 learnt the owner from gossip' });
    const third = await connect(b3.url());
    expect((await third.auth(await userToken({ sub: uniq('third') }), room)).data.monolith).toBe(m1.id);
    for (const c of [first, second, third]) c.close();
    await Promise.all([b1.stop(), b2.stop(), b3.stop(), m1.stop(), m2.stop()]);
  });
});

describe('elevation across monoliths', () => {
  it('leaves the old monolith and joins the new room on the other one', async () => {
    const env = { ROOM_UNLOAD_GRACE_MS: '0' };
    const monoliths = await Promise.all([startMonolith({ env }), startMonolith({ env })]);
    const balancer = await startBalancer({ monoliths });
    const byId = (id: string) => monoliths.find((m) => m.id === id)!;

    const client = await connect(balancer.url());
    const guest = await client.auth(await guestToken());
    const from = byId(guest.data.monolith);
    const to = monoliths.find((m) => m !== from)!;
    // A user whose own room hashes to the other monolith.
    const sub = subjectOn(to, monoliths, 'elev');
    expect(await to.metric('gateway_monolith_connections')).toBe(0);
    expect(await from.metric('gateway_monolith_connections')).toBe(1);

    client.send({ action: 'auth', token: await userToken({ sub }) });
    const welcome = await client.nextEvent('welcome');
    expect(welcome.data).toMatchObject({ room: `user:${sub}`, monolith: to.id, user: { id: sub, guest: false } });
    expect(await client.request('ping', 1)).toMatchObject({ event: 'pong', _id: 1 });
    expect(await to.metric('gateway_monolith_connections')).toBe(1);
    await waitFor(async () => (await from.metric('gateway_monolith_connections')) === 0, { what: 'the guest connection leaving its old monolith' });
    client.close();
    await Promise.all([balancer.stop(), ...monoliths.map((m) => m.stop())]);
  });
});
