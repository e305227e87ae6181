import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '@gateway/protocol';
import {
  adminToken,
  badSignatureToken,
  connect,
  expiredToken,
  guestToken,
  nowS,
  startStack,
  useHarness,
  userToken,
  waitFor,
  type BalancerHandle,
  type MonolithHandle,
  type Stack,
  type TestClient,
} from '../harness/index.js';

useHarness();

let stack: Stack;
let balancer: BalancerHandle;
let monolith: MonolithHandle;

beforeAll(async () => {
  stack = await startStack({ monoliths: 1, balancers: 1 });
  balancer = stack.balancers[0]!;
  monolith = stack.monoliths[0]!;
});
afterAll(async () => {
  await stack?.stop();
});

async function authed(token: string, room?: string): Promise<TestClient> {
  const c = await connect(balancer.url());
  await c.auth(token, room);
  return c;
}

async function broadcast(room: string, event: string, data?: unknown): Promise<void> {
  const res = await fetch(`${monolith.http}/api/rooms/${encodeURIComponent(room)}/broadcast`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await adminToken()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ event, data }),
  });
  expect(res.status).toBe(202);
}

describe('requests through the balancer', () => {
  it('answers ping with pong echoing _id and data', async () => {
    const c = await authed(await userToken({ sub: 'pinger' }));
    const data = { nested: { list: [1, 'two', null], unicode: 'é✓' }, big: '12345678901234567890' };
    expect(await c.request('ping', 7, data)).toEqual({ event: 'pong', _id: 7, data });
    expect(await c.request('ping', 'str-id')).toEqual({ event: 'pong', _id: 'str-id' });
    c.close();
  });

  it('keeps replies in request order', async () => {
    const c = await authed(await userToken({ sub: 'orderly' }));
    for (let i = 0; i < 50; i++) c.send({ event: 'ping', _id: i });
    for (let i = 0; i < 50; i++) expect((await c.next((m) => m.event === 'pong'))._id).toBe(i);
    c.close();
  });

  it('answers an unknown event with unknown_event, echoing _id, and keeps the session', async () => {
    const c = await authed(await userToken({ sub: 'curious' }));
    const reply = await c.request('no_such_event', 11, {});
    expect(reply).toMatchObject({ event: 'error', _id: 11, code: 'unknown_event' });
    expect(typeof reply.message).toBe('string');
    expect(typeof reply.human).toBe('string');
    expect(await c.request('ping', 12)).toMatchObject({ event: 'pong', _id: 12 });
    c.close();
  });

  it('forwards frames sent right after auth, before the welcome', async () => {
    const c = await connect(balancer.url());
    c.send({ action: 'auth', token: await userToken({ sub: 'eager' }) });
    c.send({ event: 'ping', _id: 'early' });
    await c.nextEvent('welcome');
    expect(await c.nextEvent('pong', 'early')).toEqual({ event: 'pong', _id: 'early' });
    c.close();
  });
});

describe('re-auth', () => {
  it('refreshes the token for the same sub and keeps the session', async () => {
    const c = await authed(await userToken({ sub: 'refresher', exp: nowS(600) }));
    const exp = nowS(7200);
    c.send({ action: 'auth', token: await userToken({ sub: 'refresher', exp }), _id: 'r1' });
    expect(await c.nextEvent('refreshed', 'r1')).toEqual({ event: 'refreshed', _id: 'r1', data: { exp } });
    expect(await c.request('ping', 2)).toMatchObject({ event: 'pong', _id: 2 });
    expect(c.pending()).toEqual([]);
    c.close();
  });

  it('refuses a bad re-auth token with token_rejected and keeps the session', async () => {
    const c = await authed(await userToken({ sub: 'stubborn' }));
    c.send({ action: 'auth', token: await badSignatureToken({ sub: 'stubborn' }), _id: 'bad1' });
    expect(await c.next((m) => m._id === 'bad1')).toMatchObject({ event: 'error', code: 'token_rejected' });
    c.send({ action: 'auth', token: await expiredToken({ sub: 'stubborn' }), _id: 'bad2' });
    expect(await c.next((m) => m._id === 'bad2')).toMatchObject({ event: 'error', code: 'token_rejected' });
    expect(await c.request('ping', 3)).toMatchObject({ event: 'pong', _id: 3 });
    expect(c.isClosed).toBe(false);
    c.close();
  });

  it('elevates a guest to a user: new welcome in user:<sub>, old room left', async () => {
    const jti = 'g-elevate-1';
    const c = await authed(await guestToken({ jti }));
    c.send({ action: 'auth', token: await userToken({ sub: 'elevated', name: 'Elle' }), _id: 'e1' });
    const welcome = await c.nextEvent('welcome');
    expect(welcome.data).toMatchObject({ room: 'user:elevated', user: { id: 'elevated', name: 'Elle', guest: false } });
    expect(await c.request('ping', 4)).toMatchObject({ event: 'pong', _id: 4 });

    // A broadcast to the old guest room no longer reaches it; one to the new room does, and
    // (one monolith, one link) arrives after anything the first could have delivered.
    await broadcast(`guest:${jti}`, 'old-room');
    await broadcast('user:elevated', 'new-room');
    await c.nextEvent('new-room');
    expect(c.received.some((m) => m.event === 'old-room')).toBe(false);
    c.close();
  });

  it('echoes the re-auth _id in the welcome that answers an elevation', async () => {
    // protocol/src/client.ts: `_id` is "echoed in the reply to a re-auth (refreshed, welcome or error)".
    const c = await authed(await guestToken({ jti: 'g-elevate-3' }));
    c.send({ action: 'auth', token: await userToken({ sub: 'elevated-3' }), _id: 'e3' });
    const welcome = await c.nextEvent('welcome');
    expect(welcome.data.room).toBe('user:elevated-3');
    expect(welcome._id).toBe('e3');
    c.close();
  });

  it("refuses elevation into someone else's private room with an error and keeps the session", async () => {
    const c = await authed(await guestToken({ jti: 'g-elevate-2' }));
    c.send({ action: 'auth', token: await userToken({ sub: 'someone' }), room: 'user:other', _id: 'e2' });
    expect(await c.next((m) => m._id === 'e2')).toMatchObject({ event: 'error', code: 'forbidden' });
    expect(await c.request('ping', 5)).toMatchObject({ event: 'pong', _id: 5 });
    c.close();
  });
});

describe('token expiry', () => {
  it('closes a session whose token expires without refresh with 4004', async () => {
    const c = await authed(await userToken({ sub: 'mayfly', exp: nowS(2) }));
    expect((await c.closed(15_000)).code).toBe(CloseCode.TOKEN_EXPIRED);
  });

  it('keeps a session whose token was refreshed before it expired', async () => {
    const firstExp = nowS(2);
    const c = await authed(await userToken({ sub: 'renewed', exp: firstExp }));
    c.send({ action: 'auth', token: await userToken({ sub: 'renewed', exp: nowS(3600) }), _id: 'r' });
    await c.nextEvent('refreshed', 'r');
    // The condition under test is "the first exp has passed": wait for that, then prove the
    // session is alive by a round trip.
    await waitFor(() => Date.now() > firstExp * 1000 + 1500, { timeoutMs: 10_000, what: 'first token expiry' });
    expect(await c.request('ping', 6)).toMatchObject({ event: 'pong', _id: 6 });
    c.close();
  });
});
