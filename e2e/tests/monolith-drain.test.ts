import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import {
  connect,
  rawLink,
  type RawLink,
  startBalancer,
  startMonolith,
  startRedis,
  uniq,
  useHarness,
  userToken,
  waitFor,
  type BalancerHandle,
  type TestClient,
} from '../harness/index.js';
import { metricSeries, readyOf } from '../harness/gateway-http.js';
import { roomOn } from '../harness/placement.js';

useHarness();

const toStop: Array<{ stop(): Promise<unknown> }> = [];
const sockets: WebSocket[] = [];
afterAll(async () => {
  for (const ws of sockets) ws.terminate();
  await Promise.all(toStop.map((h) => h.stop()));
});

/**
 * A raw balancer link from the test: it joins one connection and then ignores `drain`, so the
 * monolith stays draining (held by that connection) until DRAIN_TIMEOUT_MS.
 */
async function holdingLink(linkAddress: string): Promise<RawLink> {
  const link = await rawLink(linkAddress, { balancerId: 'holder' });
  sockets.push(link.ws);
  return link;
}

/** A client in a fresh room that the balancer, linked to `linked`, places on `monolithId`. */
async function clientOn(balancer: BalancerHandle, monolithId: string, linked: string[]): Promise<TestClient> {
  const c = await connect(balancer.url());
  expect((await c.auth(await userToken(), roomOn(monolithId, linked, 'place'))).data.monolith).toBe(monolithId);
  return c;
}

async function join(balancer: BalancerHandle, room: string): Promise<string> {
  const c = await connect(balancer.url());
  const welcome = await c.auth(await userToken(), room);
  c.close();
  return String(welcome.data.monolith);
}

describe('a draining monolith and a balancer that links to it during the drain', () => {
  it('is never given new connections by that balancer', async () => {
    const redis = await startRedis();
    const env = { DRAIN_TIMEOUT_MS: '20000' };
    const [m1, m2] = await Promise.all([startMonolith({ redisUrl: redis.url, env }), startMonolith({ redisUrl: redis.url })]);
    toStop.push(m1, m2, redis);
    const room = uniq('held');
    const holder = await holdingLink(m1.linkAddress);
    holder.send({ type: 'join', token: await userToken(), room, id: 'holder.1' });
    // Joined and announced: the room is in m1's gossip from now on.
    await waitFor(() => holder.frames.some((f) => f.type === 'loaded' && f.room === room), { what: `m1 announcing ${room}` });

    const exited = m1.stop(30_000);
    await waitFor(() => holder.frames.some((f) => f.type === 'drain'), { what: 'drain frame on the holding link' });
    expect(m1.proc.exit).toBeUndefined();

    // A balancer starting now (a restart, a scale-up, or a link that redials) links m1 while it
    // drains: it was not there when m1 sent `drain`.
    const late = await startBalancer({ monoliths: [m1, m2], waitForMonoliths: 0 });
    toStop.push(late);
    await waitFor(async () => (await metricSeries(late.admin, 'gateway_balancer_link_up')).find((s) => s.labels.address === m2.linkAddress)?.value === 1, {
      what: 'the late balancer linked to m2',
    });
    await m1.proc.waitForLine((l) => (l.text.includes('balancer linked') && l.text.includes(late.id) ? true : undefined), 10_000, 'the late balancer’s link on m1');

    // m1 must count as draining for it: not ready, no owner of its old rooms, no new rooms.
    const placed = [await join(late, room)];
    for (let i = 0; i < 8; i++) placed.push(await join(late, uniq(`fresh${i}`)));
    expect(placed.filter((id) => id === m1.id), `placements on the draining ${m1.id}: ${placed.join(',')}`).toEqual([]);
    expect((await readyOf(late.http)).body).toMatchObject({ monoliths: 1 });

    holder.send({ type: 'leave', room, id: 'holder.1' });
    expect((await exited).code).toBe(0);
  }, 60_000);
});

describe('a monolith SIGTERM while Redis does not answer', () => {
  it('still drains: moving its connections does not wait on the registry entry removal', async () => {
    // Our own Redis, since it is frozen (a partition that drops packets: no error, no reply).
    const redis = await startRedis({ external: false });
    const env = { REGISTRY_ADDRESS: '127.0.0.1:0', REGISTRY_TTL_MS: '3000' };
    const [m1, m2] = await Promise.all([startMonolith({ redisUrl: redis.url, env }), startMonolith({ redisUrl: redis.url, env })]);
    const balancer = await startBalancer({ monoliths: [m1, m2] });
    toStop.push(balancer, m1, m2, redis);
    const client = await clientOn(balancer, m1.id, [m1.id, m2.id]);

    redis.proc!.signal('SIGSTOP');
    try {
      const exited = m1.stop(30_000);
      expect((await client.nextEvent('welcome', undefined, 15_000)).data.monolith).toBe(m2.id);
      await client.nextEvent('resync');
      expect((await exited).code).toBe(0);
      expect(client.isClosed).toBe(false);
    } finally {
      redis.proc!.signal('SIGCONT');
    }
  }, 60_000);
});
