import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '@gateway/protocol';
import {
  badSignatureToken,
  connect,
  expiredToken,
  guestToken,
  noneToken,
  nowS,
  rs256Token,
  startBalancer,
  startStack,
  useHarness,
  userToken,
  type BalancerHandle,
  type Stack,
} from '../harness/index.js';

useHarness();

let stack: Stack;
let balancer: BalancerHandle;
/** A balancer with AUTH_TIMEOUT_MS=300, only for the timeout case. */
let quick: BalancerHandle;
/** A balancer that requires `iss` and `aud`. */
let strict: BalancerHandle;

beforeAll(async () => {
  stack = await startStack({ monoliths: 1, balancers: 1 });
  balancer = stack.balancers[0]!;
  const monolith = stack.monoliths[0]!;
  [quick, strict] = await Promise.all([
    startBalancer({ monoliths: [monolith], env: { AUTH_TIMEOUT_MS: '300' } }),
    startBalancer({ monoliths: [monolith], env: { JWT_ISSUER: 'https://issuer.test', JWT_AUDIENCE: 'gateway-e2e' } }),
  ]);
});
afterAll(async () => {
  await Promise.all([quick?.stop(), strict?.stop(), stack?.stop()]);
});

/** Connects, sends one auth frame with `token` (and `room`), and returns the close it gets. */
async function closeFor(token: string, room?: string, url = balancer.url()) {
  const c = await connect(url);
  c.send(room === undefined ? { action: 'auth', token } : { action: 'auth', token, room });
  return c.closed(10_000);
}

describe('auth happy path', () => {
  it('welcomes a user into user:<sub> with its identity and permissions', async () => {
    const c = await connect(balancer.url());
    const token = await userToken({ sub: 'alice', name: 'Alice', guilds: { '123456789012345678': 0x202 }, admin: false });
    const welcome = await c.auth(token);
    expect(welcome.data).toMatchObject({
      room: 'user:alice',
      user: { id: 'alice', name: 'Alice', guest: false },
      permissions: { admin: false, guilds: { '123456789012345678': 0x202 } },
      monolith: stack.monoliths[0]!.id,
    });
    expect(typeof welcome.data.id).toBe('string');
    expect(welcome.data.id.length).toBeGreaterThan(0);
    // The session is usable right after the welcome.
    const pong = await c.request('ping', 1, { n: 1 });
    expect(pong).toEqual({ event: 'pong', _id: 1, data: { n: 1 } });
    c.close();
  });

  it('gives two sockets of one user distinct connection ids in the same room', async () => {
    const token = await userToken({ sub: 'bob' });
    const [a, b] = await Promise.all([connect(balancer.url()), connect(balancer.url())]);
    const [wa, wb] = await Promise.all([a.auth(token), b.auth(token)]);
    expect(wa.data.room).toBe('user:bob');
    expect(wb.data.room).toBe('user:bob');
    expect(wa.data.id).not.toBe(wb.data.id);
    a.close();
    b.close();
  });

  it('puts a guest token in guest:<jti>', async () => {
    const c = await connect(balancer.url());
    const welcome = await c.auth(await guestToken({ jti: 'g-visitor-1' }));
    expect(welcome.data).toMatchObject({ room: 'guest:g-visitor-1', user: { id: 'g-visitor-1', guest: true }, permissions: { admin: false } });
    c.close();
  });

  it('admits a user to a shared room named in the auth frame', async () => {
    const c = await connect(balancer.url());
    const welcome = await c.auth(await userToken({ sub: 'carol' }), 'lobby-auth');
    expect(welcome.data).toMatchObject({ room: 'lobby-auth', user: { id: 'carol' } });
    c.close();
  });

  it('accepts iss and aud when they match the configured ones', async () => {
    const c = await connect(strict.url());
    const welcome = await c.auth(await userToken({ sub: 'dave', iss: 'https://issuer.test', aud: 'gateway-e2e' }));
    expect(welcome.data.room).toBe('user:dave');
    c.close();
  });
});

describe('auth refusals, each with its own close code', () => {
  it('closes a socket that sends nothing within AUTH_TIMEOUT_MS with 4100', async () => {
    const c = await connect(quick.url());
    expect((await c.closed(10_000)).code).toBe(CloseCode.AUTH_TIMEOUT);
  });

  it('closes when the first frame is not auth with 4101', async () => {
    const c = await connect(balancer.url());
    c.send({ event: 'ping', _id: 1 });
    expect((await c.closed()).code).toBe(CloseCode.AUTH_REQUIRED);
    expect(c.received).toEqual([]);
  });

  it('refuses a bad signature with 4102', async () => {
    expect((await closeFor(await badSignatureToken({ sub: 'mallory' }))).code).toBe(CloseCode.TOKEN_INVALID);
  });

  it('refuses a token that is not a JWT at all with 4102', async () => {
    expect((await closeFor('not.a.jwt')).code).toBe(CloseCode.TOKEN_INVALID);
  });

  it('refuses an expired token with 4004', async () => {
    expect((await closeFor(await expiredToken({ sub: 'late' }))).code).toBe(CloseCode.TOKEN_EXPIRED);
  });

  it('refuses a token whose nbf is in the future with 4103', async () => {
    expect((await closeFor(await userToken({ sub: 'early', nbf: nowS(600) }))).code).toBe(CloseCode.TOKEN_NOT_YET_VALID);
  });

  it('refuses alg none with 4104', async () => {
    expect((await closeFor(noneToken({ sub: 'none-user' }))).code).toBe(CloseCode.TOKEN_ALGORITHM);
  });

  it('refuses an RS256 token on an HS256 gateway (algorithm confusion) with 4104', async () => {
    expect((await closeFor(await rs256Token({ sub: 'confused' }))).code).toBe(CloseCode.TOKEN_ALGORITHM);
  });

  it('refuses another HMAC algorithm (HS512 with the right secret) with 4104', async () => {
    expect((await closeFor(await userToken({ sub: 'hs512', alg: 'HS512' }))).code).toBe(CloseCode.TOKEN_ALGORITHM);
  });

  it('refuses a wrong iss with 4105 when JWT_ISSUER is set', async () => {
    const token = await userToken({ sub: 'x', iss: 'https://evil.test', aud: 'gateway-e2e' });
    expect((await closeFor(token, undefined, strict.url())).code).toBe(CloseCode.TOKEN_CLAIMS);
  });

  it('refuses a wrong aud with 4105 when JWT_AUDIENCE is set', async () => {
    const token = await userToken({ sub: 'x', iss: 'https://issuer.test', aud: 'another-service' });
    expect((await closeFor(token, undefined, strict.url())).code).toBe(CloseCode.TOKEN_CLAIMS);
  });

  it('refuses a token without iss/aud with 4105 when they are required', async () => {
    expect((await closeFor(await userToken({ sub: 'x' }), undefined, strict.url())).code).toBe(CloseCode.TOKEN_CLAIMS);
  });

  it('refuses a token with an invalid claim with 4105, however long the offending value', async () => {
    const ascii = await userToken({ sub: 'x', guilds: { ['g'.repeat(300)]: 1 } });
    expect((await closeFor(ascii)).code).toBe(CloseCode.TOKEN_CLAIMS);
    // Close reasons are capped at 123 bytes: one that reflects a non-ASCII claim and is cut
    // mid-character is invalid UTF-8, and the client sees 1006 (reconnect) instead.
    const unicode = await userToken({ sub: 'x', guilds: { ['é'.repeat(100)]: 1 } });
    expect((await closeFor(unicode)).code).toBe(CloseCode.TOKEN_CLAIMS);
  });

  it('refuses a user token without sub with 4105', async () => {
    expect((await closeFor(await userToken({ sub: undefined, name: 'nobody' }))).code).toBe(CloseCode.TOKEN_CLAIMS);
  });
});

describe('private rooms', () => {
  it("refuses someone else's user room with 4106", async () => {
    expect((await closeFor(await userToken({ sub: 'eve' }), 'user:someone-else')).code).toBe(CloseCode.FORBIDDEN_ROOM);
  });

  it("refuses someone else's guest room with 4106", async () => {
    expect((await closeFor(await guestToken({ jti: 'g-eve' }), 'guest:g-other')).code).toBe(CloseCode.FORBIDDEN_ROOM);
  });

  it("refuses a guest asking for a user's room with 4106", async () => {
    expect((await closeFor(await guestToken({ jti: 'alice' }), 'user:alice')).code).toBe(CloseCode.FORBIDDEN_ROOM);
  });

  it("refuses someone else's room given in the URL path with 4106", async () => {
    const code = (await closeFor(await userToken({ sub: 'eve' }), undefined, balancer.url('/api/room/user:victim'))).code;
    expect(code).toBe(CloseCode.FORBIDDEN_ROOM);
  });

  it('refuses an invalid room name in the URL path with 4106', async () => {
    const code = (await closeFor(await userToken({ sub: 'eve' }), undefined, balancer.url('/api/room/a%2Fb'))).code;
    expect(code).toBe(CloseCode.FORBIDDEN_ROOM);
  });

  it('refuses an invalid room name in the auth frame with 4106, as in the URL path', async () => {
    // The catalogue: FORBIDDEN_ROOM is "someone else's private room, or not a valid room name".
    expect((await closeFor(await userToken({ sub: 'eve' }), 'a/b')).code).toBe(CloseCode.FORBIDDEN_ROOM);
  });

  it('admits a user to its own room given in the URL path', async () => {
    const c = await connect(balancer.url('/api/room/user:frank'));
    const welcome = await c.auth(await userToken({ sub: 'frank' }));
    expect(welcome.data.room).toBe('user:frank');
    c.close();
  });
});
