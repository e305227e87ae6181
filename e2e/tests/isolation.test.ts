import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adminToken,
  connect,
  startBalancer,
  startMonolith,
  uniq,
  useHarness,
  userToken,
  type BalancerHandle,
  type MonolithHandle,
} from '../harness/index.js';

useHarness();

// Two balancers configured with one BALANCER_ID, as a Deployment template that sets it would do.
// Connection ids are `<BALANCER_ID>.<counter>`, so both balancers hand out `edge.1`, `edge.2`...
let monolith: MonolithHandle;
let b1: BalancerHandle;
let b2: BalancerHandle;

beforeAll(async () => {
  monolith = await startMonolith();
  b1 = await startBalancer({ monoliths: [monolith], id: 'edge' });
  b2 = await startBalancer({ monoliths: [monolith], id: 'edge' });
});
afterAll(async () => {
  await Promise.all([b1?.stop(), b2?.stop(), monolith?.stop()]);
});

describe('connections on balancers that share a BALANCER_ID', () => {
  it("never deliver one user's replies to another", async () => {
    const alice = await connect(b1.url());
    await alice.auth(await userToken({ sub: uniq('alice') }));
    const victim = await connect(b2.url());
    await victim.auth(await userToken({ sub: uniq('victim') }));

    alice.send({ event: 'ping', _id: 'from-alice', data: { private: 'alice only' } });
    expect(await alice.nextEvent('pong', 'from-alice')).toMatchObject({ data: { private: 'alice only' } });
    // The victim's own round trip comes after anything alice's request could have sent it.
    expect(await victim.request('ping', 'from-victim')).toMatchObject({ event: 'pong' });
    expect(victim.received.map((m) => m._id ?? m.event)).toEqual(['welcome', 'from-victim']);
    alice.close();
    victim.close();
  });

  it('keep both users in their rooms: a broadcast to one room reaches only its member', async () => {
    const roomA = uniq('room-a');
    const roomV = uniq('room-v');
    const a = await connect(b1.url());
    await a.auth(await userToken({ sub: uniq('a') }), roomA);
    const v = await connect(b2.url());
    await v.auth(await userToken({ sub: uniq('v') }), roomV);
    expect(await monolith.metric('gateway_monolith_connections')).toBeGreaterThanOrEqual(2);

    const post = async (room: string, event: string) => {
      const res = await fetch(`${monolith.http}/api/rooms/${room}/broadcast`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await adminToken()}`, 'content-type': 'application/json' },
        body: JSON.stringify({ event }),
      });
      expect(res.status).toBe(202);
    };
    await post(roomA, 'to-a');
    await post(roomV, 'to-v');
    await a.nextEvent('to-a');
    await v.nextEvent('to-v');
    a.close();
    v.close();
  });
});
