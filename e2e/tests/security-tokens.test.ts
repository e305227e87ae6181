/**
 * Security audit (issue 9), finding 7, token parts, against real processes: JWT hygiene on the
 * socket (close codes) and on the monolith's HTTP API (401) alike, a websocket token accepted on
 * the socket only, own rooms checked against the room pattern, guest tokens rate limited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '@gateway/protocol';
import { MONOLITH_DEFAULTS } from '../../monolith/dist/config.js';
import {
  adminToken,
  connect,
  guestToken,
  nowS,
  respellSignature,
  startStack,
  useHarness,
  userToken,
  type Stack,
} from '../harness/index.js';

useHarness();

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ monoliths: 1, balancers: 1 });
});
afterAll(async () => {
  await stack?.stop();
});

async function closeFor(token: string, room?: string) {
  const c = await connect(stack.balancers[0]!.url());
  c.send(room === undefined ? { action: 'auth', token } : { action: 'auth', token, room });
  return c.closed(10_000);
}

/** `POST /api/rooms/lobby/broadcast` with a bearer token: an endpoint an admin token may use. */
async function broadcast(token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${stack.monoliths[0]!.http}/api/rooms/lobby/broadcast`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ event: 'note' }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Each refused token, as [rule, make(admin?), close code at the socket]. */
const rules: Array<[string, (admin: boolean) => Promise<string>, number]> = [
  ['a token without exp', (admin) => userToken({ sub: 'noexp', admin, exp: null }), CloseCode.TOKEN_CLAIMS],
  ['a lifetime (exp - iat) above JWT_MAX_LIFETIME_S', (admin) => userToken({ sub: 'forever', admin, exp: nowS(86_400 + 120) }), CloseCode.TOKEN_CLAIMS],
  ['a lifetime from now above JWT_MAX_LIFETIME_S without iat', (admin) => userToken({ sub: 'noiat', admin, iat: null, exp: nowS(86_400 + 120) }), CloseCode.TOKEN_CLAIMS],
  ['an iat in the future', (admin) => userToken({ sub: 'future', admin, iat: nowS(600), exp: nowS(1200) }), CloseCode.TOKEN_NOT_YET_VALID],
  ['an =-padded signature', async (admin) => respellSignature(await userToken({ sub: 'pad', admin }), 'padding'), CloseCode.TOKEN_INVALID],
  ['a signature outside the base64url alphabet', async (admin) => respellSignature(await userToken({ sub: 'b64', admin }), 'alphabet'), CloseCode.TOKEN_INVALID],
  ['a signature with a nonzero unused bit', async (admin) => respellSignature(await userToken({ sub: 'bits', admin }), 'bits'), CloseCode.TOKEN_INVALID],
];

describe('JWT hygiene at the socket', () => {
  it.each(rules)('refuses %s with its close code', async (_rule, make, code) => {
    expect((await closeFor(await make(false))).code).toBe(code);
  });

  it('still welcomes a token at the maximum lifetime', async () => {
    const c = await connect(stack.balancers[0]!.url());
    expect((await c.auth(await userToken({ sub: 'day', exp: nowS(86_400) }))).data).toMatchObject({ room: 'user:day' });
    c.close();
  });
});

describe('JWT hygiene at the HTTP API', () => {
  it('accepts a well-formed admin token (control)', async () => {
    expect((await broadcast(await adminToken())).status).toBe(202);
  });

  it.each(rules)('refuses %s with 401, even carrying admin', async (_rule, make) => {
    const { status, body } = await broadcast(await make(true));
    expect(status).toBe(401);
    expect(body).toMatchObject({ code: 'token_rejected' });
  });
});

describe('a websocket token is accepted on the socket only', () => {
  it('is refused by the HTTP API with 401 though minted from an admin token, and opens a socket', async () => {
    const res = await fetch(`${stack.monoliths[0]!.http}/api/tokens/ws`, { method: 'POST', headers: { authorization: `Bearer ${await adminToken()}` } });
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as { token: string };
    const refused = await broadcast(token);
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ code: 'token_rejected', message: 'a websocket token is accepted on the socket only' });
    const c = await connect(stack.balancers[0]!.url());
    expect((await c.auth(token)).data).toMatchObject({ room: 'user:backend', permissions: { admin: true } });
    c.close();
  });
});

describe('own rooms are checked against the room pattern', () => {
  it.each([
    ['a slash', 'eve/evil'],
    ['a path', '../../gw:monoliths'],
    ['a newline', 'eve\nDEL'],
    ['NUL', 'eve\u0000'],
    ['more than the pattern allows', 'e'.repeat(124)],
  ])('refuses a user whose subject has %s with 4106, for its own room and a shared one', async (_what, sub) => {
    expect((await closeFor(await userToken({ sub }))).code).toBe(CloseCode.FORBIDDEN_ROOM);
    expect((await closeFor(await userToken({ sub }), 'lobby')).code).toBe(CloseCode.FORBIDDEN_ROOM);
  });

  it('refuses a guest whose jti has a slash with 4106', async () => {
    expect((await closeFor(await guestToken({ jti: 'g/../user:alice' }))).code).toBe(CloseCode.FORBIDDEN_ROOM);
  });
});

describe('guest tokens are rate limited per client address', () => {
  it('mints GUEST_TOKEN_BURST tokens, then answers 429 with Retry-After', async () => {
    const mint = () => fetch(`${stack.monoliths[0]!.http}/api/tokens/guest`, { method: 'POST' });
    const statuses: number[] = [];
    for (let i = 0; i < MONOLITH_DEFAULTS.GUEST_TOKEN_BURST; i++) statuses.push((await mint()).status);
    expect(statuses.every((s) => s === 200), statuses.join(',')).toBe(true);
    const limited = await mint();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited.json()).toMatchObject({ code: 'rate_limited' });
  });
});
