import { afterAll, describe, expect, it } from 'vitest';
import { CloseCode } from '@gateway/protocol';
import {
  adminToken,
  connect,
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
import { roomOn } from '../harness/placement.js';

useHarness();

const stacks: Stack[] = [];
afterAll(async () => {
  await Promise.all(stacks.map((s) => s.stop()));
});

async function stackOf(monoliths: number, balancers: number): Promise<Stack> {
  const s = await startStack({ monoliths, balancers });
  stacks.push(s);
  return s;
}

async function joinRoom(balancer: BalancerHandle, room: string): Promise<{ client: TestClient; monolith: string }> {
  const client = await connect(balancer.url());
  const welcome = await client.auth(await userToken({ sub: uniq('u') }), room);
  return { client, monolith: welcome.data.monolith };
}

async function readyStatus(balancer: BalancerHandle): Promise<{ status: number; monoliths: number }> {
  const res = await fetch(`${balancer.http}/ready`);
  const body = (await res.json()) as { monoliths: number };
  return { status: res.status, monoliths: body.monoliths };
}

describe('a balancer that dies', () => {
  it("makes its connections leave the monolith's rooms (no ghosts)", async () => {
    const stack = await stackOf(1, 2);
    const [a, b] = stack.balancers as [BalancerHandle, BalancerHandle];
    const monolith = stack.monoliths[0]!;
    const room = uniq('shared');
    const onA = await Promise.all([joinRoom(a, room), joinRoom(a, room)]);
    const onB = await Promise.all([joinRoom(b, room), joinRoom(b, room), joinRoom(b, room)]);
    // Every welcome comes from the monolith after it recorded the join.
    expect(await monolith.metric('gateway_monolith_connections')).toBe(5);

    await b.kill();
    for (const { client } of onB) await client.closed(10_000);
    await waitFor(async () => (await monolith.metric('gateway_monolith_connections')) === 2, {
      what: "gateway_monolith_connections down to balancer A's 2 clients",
    });
    expect(await monolith.metric('gateway_monolith_links')).toBe(1);

    // A's clients are untouched: requests and room broadcasts still reach them.
    for (const [i, { client }] of onA.entries()) expect(await client.request('ping', i)).toMatchObject({ event: 'pong', _id: i });
    const res = await fetch(`${monolith.http}/api/rooms/${room}/broadcast`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await adminToken()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ event: 'after-b-died' }),
    });
    expect(res.status).toBe(202);
    for (const { client } of onA) await client.nextEvent('after-b-died');
  });

  it('closes its clients with 4000 (reconnect) when drained with SIGTERM', async () => {
    const stack = await stackOf(1, 1);
    const balancer = stack.balancers[0]!;
    const { client } = await joinRoom(balancer, uniq('drain'));
    const exited = balancer.stop(10_000);
    expect((await client.closed(10_000)).code).toBe(CloseCode.DRAINING);
    expect((await exited).code).toBe(0);
  });
});

describe('a monolith that dies', () => {
  it('re-places its rooms on a survivor; clients stay connected and get welcome + resync', async () => {
    const stack = await stackOf(2, 1);
    const balancer = stack.balancers[0]!;
    const [m1, m2] = stack.monoliths as [typeof stack.monoliths[0], typeof stack.monoliths[0]];
    // One client in a room on each monolith.
    const [stayed, moved] = await Promise.all(
      [m1, m2].map(async (m) => {
        const j = await joinRoom(balancer, roomOn(m, [m1, m2], 'place'));
        expect(j.monolith).toBe(m.id);
        return j.client;
      }),
    ) as [TestClient, TestClient];

    await m2.kill();
    const welcome = await moved.nextEvent('welcome', undefined, 15_000);
    expect(welcome.data.monolith).toBe(m1.id);
    await moved.nextEvent('resync', undefined, 5000);
    expect(await moved.request('ping', 1)).toMatchObject({ event: 'pong', _id: 1 });
    expect(moved.isClosed).toBe(false);

    expect(await stayed.request('ping', 2)).toMatchObject({ event: 'pong', _id: 2 });
    expect(stayed.received.some((m) => m.event === 'resync')).toBe(false);
    expect(await readyStatus(balancer)).toEqual({ status: 200, monoliths: 1 });
  });
});

describe('a frozen peer (heartbeats)', () => {
  it('drops a frozen balancer: the monolith counts only the live one’s clients', async () => {
    const stack = await stackOf(1, 2);
    const [a, b] = stack.balancers as [BalancerHandle, BalancerHandle];
    const monolith = stack.monoliths[0]!;
    const room = uniq('frozen-b');
    const onA = await joinRoom(a, room);
    await Promise.all([joinRoom(b, room), joinRoom(b, room)]);
    expect(await monolith.metric('gateway_monolith_connections')).toBe(3);

    b.proc.signal('SIGSTOP');
    await waitFor(async () => (await monolith.metric('gateway_monolith_links')) === 1, { what: 'the frozen balancer’s link dropped' });
    expect(await monolith.metric('gateway_monolith_connections')).toBe(1);
    expect(await onA.client.request('ping', 1)).toMatchObject({ event: 'pong', _id: 1 });
    await b.kill();
  });

  it('moves rooms off a frozen monolith, like off a dead one', async () => {
    const stack = await stackOf(2, 1);
    const balancer = stack.balancers[0]!;
    const [m1, m2] = stack.monoliths as [typeof stack.monoliths[0], typeof stack.monoliths[0]];
    const j = await joinRoom(balancer, roomOn(m2, [m1, m2], 'frozen-m'));
    expect(j.monolith).toBe(m2.id);
    const client = j.client;

    m2.proc.signal('SIGSTOP');
    expect((await client.nextEvent('welcome', undefined, 15_000)).data.monolith).toBe(m1.id);
    await client.nextEvent('resync');
    expect(await client.request('ping', 1)).toMatchObject({ event: 'pong', _id: 1 });
    await m2.kill();
  });
});

describe('the last monolith dying', () => {
  it('closes clients with 4001 (no monolith, reconnect)', async () => {
    const stack = await stackOf(1, 1);
    const { client } = await joinRoom(stack.balancers[0]!, uniq('alone'));
    await stack.monoliths[0]!.kill();
    expect((await client.closed(10_000)).code).toBe(CloseCode.NO_MONOLITH);
    expect(await readyStatus(stack.balancers[0]!)).toEqual({ status: 503, monoliths: 0 });
  });
});

describe('link authentication', () => {
  it('never links a balancer with a wrong LINK_SECRET; its clients get 4001', async () => {
    const monolith = await startMonolith();
    const balancer = await startBalancer({ monoliths: [monolith], env: { LINK_SECRET: 'another-link-secret-0123456789' }, waitForMonoliths: 0 });
    await waitFor(async () => (await monolith.metric('gateway_monolith_link_rejected_total')) >= 2, { what: 'two refused link attempts (it retries)' });
    // Both sides say so at warn: the balancer cannot verify the monolith's proof and hangs up
    // before sending its own, which the monolith reports as a refused handshake.
    expect(balancer.proc.output('stderr')).toMatch(/monolith failed link authentication.*wrong proof/);
    expect(monolith.proc.output('stderr')).toMatch(/link closed during authentication/);
    expect(await readyStatus(balancer)).toEqual({ status: 503, monoliths: 0 });
    expect(await monolith.metric('gateway_monolith_links')).toBe(0);
    const c = await connect(balancer.url());
    c.send({ action: 'auth', token: await userToken() });
    expect((await c.closed()).code).toBe(CloseCode.NO_MONOLITH);
    await Promise.all([balancer.stop(), monolith.stop()]);
  });
});
