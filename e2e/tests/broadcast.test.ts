import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adminToken,
  connect,
  startStack,
  uniq,
  useHarness,
  userToken,
  type MonolithHandle,
  type Msg,
  type Stack,
  type TestClient,
} from '../harness/index.js';
import { roomOn } from '../harness/placement.js';

useHarness();

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ monoliths: 2, balancers: 2, redis: true });
});
afterAll(async () => {
  await stack?.stop();
});

interface Member {
  client: TestClient;
  monolith: string;
  balancer: number;
}

/** Joins `room` on balancer `b`, by the auth frame's `room` field or by the URL path. */
async function member(b: number, room: string, via: 'frame' | 'path'): Promise<Member> {
  const token = await userToken({ sub: uniq('member') });
  const client = await connect(stack.balancers[b]!.url(via === 'path' ? `/api/room/${room}` : '/ws'));
  const welcome = await client.auth(token, via === 'frame' ? room : undefined);
  expect(welcome.data.room).toBe(room);
  return { client, monolith: welcome.data.monolith, balancer: b };
}

async function post(monolith: MonolithHandle, room: string, body: unknown, token?: string): Promise<Response> {
  return fetch(`${monolith.http}/api/rooms/${encodeURIComponent(room)}/broadcast`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

async function broadcast(monolith: MonolithHandle, room: string, event: string, data?: unknown): Promise<void> {
  const res = await post(monolith, room, { event, data }, await adminToken());
  expect(res.status, await res.clone().text()).toBe(202);
}

function count(msgs: Msg[], event: string): number {
  return msgs.filter((m) => m.event === event).length;
}

/**
 * Broadcasts `event` through `via`, then a marker through the same monolith; once every member
 * has the marker, everything the first broadcast caused has arrived (Redis pub/sub, the owner's
 * links and each socket are FIFO), so the counts are final.
 */
async function deliverOnce(members: Member[], via: MonolithHandle, room: string, event: string, data: unknown): Promise<void> {
  await broadcast(via, room, event, data);
  const marker = `${event}-marker`;
  await broadcast(via, room, marker);
  for (const m of members) {
    await m.client.nextEvent(marker, undefined, 10_000);
    expect(count(m.client.received, event), `member on balancer ${m.balancer}`).toBe(1);
    // Positioned: the room's stream, one offset for everyone (one publication), its epoch.
    expect(m.client.received.find((x) => x.event === event)).toEqual({ event, data, stream: `room:${room}`, offset: expect.any(Number), epoch: expect.any(String) });
  }
}

describe('room broadcast over 2 balancers × 2 monoliths with Redis', () => {
  it('reaches every member of a shared room exactly once, posted on either monolith', async () => {
    const room = uniq('lobby');
    const members = await Promise.all([member(0, room, 'frame'), member(1, room, 'frame'), member(0, room, 'path'), member(1, room, 'path')]);
    expect(new Set(members.map((m) => m.monolith)).size).toBe(1);
    const outsider = await member(0, uniq('elsewhere'), 'frame');

    await deliverOnce(members, stack.monoliths[0]!, room, 'news-1', { n: 1, text: 'from m1' });
    await deliverOnce(members, stack.monoliths[1]!, room, 'news-2', { n: 2, text: 'from m2' });

    // The outsider shares balancer 0 with members that already got both broadcasts; its own
    // round trip afterwards comes after anything that could have leaked to it.
    expect(await outsider.client.request('ping', 1)).toMatchObject({ event: 'pong', _id: 1 });
    expect(outsider.client.received.map((m) => m.event)).toEqual(['welcome', 'pong']);
    for (const m of [...members, outsider]) m.client.close();
  });

  it('keeps two rooms on different monoliths apart, each reachable from both monoliths', async () => {
    // One room placed on each monolith (both balancers link both).
    const rooms = new Map(stack.monoliths.map((m) => [m.id, roomOn(m, stack.monoliths, 'split')]));
    const [roomA, roomB] = [...rooms.values()] as [string, string];
    const ownerOf = (room: string) => stack.monoliths.find((m) => rooms.get(m.id) === room)!;
    const otherThan = (m: MonolithHandle) => stack.monoliths.find((x) => x !== m)!;

    const inA = await Promise.all([member(0, roomA, 'frame'), member(1, roomA, 'path')]);
    const inB = await Promise.all([member(0, roomB, 'path'), member(1, roomB, 'frame')]);
    expect(inA.every((m) => m.monolith === ownerOf(roomA).id)).toBe(true);
    expect(inB.every((m) => m.monolith === ownerOf(roomB).id)).toBe(true);

    // Posted on the monolith that does NOT own the room: it must travel over Redis.
    await deliverOnce(inA, otherThan(ownerOf(roomA)), roomA, 'for-a', { room: 'a' });
    await deliverOnce(inB, otherThan(ownerOf(roomB)), roomB, 'for-b', { room: 'b' });
    // And on the owner itself.
    await deliverOnce(inA, ownerOf(roomA), roomA, 'for-a-again', { room: 'a' });

    for (const m of inA) expect(count(m.client.received, 'for-b')).toBe(0);
    // Each B member shares a balancer with an A member that already has A's broadcasts, so a
    // leak to it would have been sent before this later broadcast of its own room.
    await deliverOnce(inB, ownerOf(roomB), roomB, 'for-b-again', { room: 'b' });
    for (const m of inB) {
      expect(count(m.client.received, 'for-a')).toBe(0);
      expect(count(m.client.received, 'for-a-again')).toBe(0);
    }
    for (const m of [...inA, ...inB]) m.client.close();
  });
});

describe('broadcast endpoint auth', () => {
  it('refuses a request without a token with 401', async () => {
    const res = await post(stack.monoliths[0]!, 'lobby', { event: 'x' });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 'token_rejected' });
  });

  it('refuses a token with a bad signature with 401', async () => {
    const forged = await userToken({ sub: 'backend', admin: true, secret: 'some-other-secret-0123456789' });
    expect((await post(stack.monoliths[0]!, 'lobby', { event: 'x' }, forged)).status).toBe(401);
  });

  it('refuses a non-admin token with 403', async () => {
    const res = await post(stack.monoliths[1]!, 'lobby', { event: 'x' }, await userToken({ sub: 'plain-user' }));
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: 'forbidden' });
  });

  it('refuses a body without event with 400', async () => {
    expect((await post(stack.monoliths[0]!, 'lobby', { data: 1 }, await adminToken())).status).toBe(400);
  });

  it('refuses an invalid room name with 400', async () => {
    expect((await post(stack.monoliths[0]!, 'bad/room', { event: 'x' }, await adminToken())).status).toBe(400);
  });
});
