import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { Hub } from '../hub/hub.js';
import { MemoryBroker } from '../hub/memory-broker.js';
import { createLog, createSigner, createVerifier } from '@gateway/server-kit';
import { SourceLimiter, registerTokenRoutes } from './tokens.js';
import { registerRoutes } from './routes.js';

const secret = 'tokens-test-secret-0123456789abcdef';
const sign = createSigner(secret);
const verify = createVerifier({ secret });

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

function build(limit: { perMinute: number; burst: number; proxyHeader?: string }, clock: { now: number }) {
  app = Fastify();
  registerTokenRoutes(app, { verify, sign, guestLimit: limit, now: () => clock.now });
  return app;
}

const guest = (a: FastifyInstance, headers: Record<string, string> = {}, remoteAddress = '203.0.113.1') =>
  a.inject({ method: 'POST', url: '/api/tokens/guest', headers, remoteAddress });

describe('POST /api/tokens/guest rate limit', () => {
  it('mints a burst per address, then answers 429 with Retry-After until the bucket refills', async () => {
    const clock = { now: 1_000_000 };
    const a = build({ perMinute: 6, burst: 2 }, clock);
    expect((await guest(a)).statusCode).toBe(200);
    expect((await guest(a)).statusCode).toBe(200);
    const limited = await guest(a);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('10');
    expect(limited.json()).toMatchObject({ code: 'rate_limited' });
    // Another address has its own bucket.
    expect((await guest(a, {}, '198.51.100.7')).statusCode).toBe(200);
    clock.now += 10_000;
    expect((await guest(a)).statusCode).toBe(200);
    expect((await guest(a)).statusCode).toBe(429);
  });

  it('counts an IPv6 /64 as one address', async () => {
    const a = build({ perMinute: 1, burst: 1 }, { now: 0 });
    expect((await guest(a, {}, '2001:db8:1:2::1')).statusCode).toBe(200);
    expect((await guest(a, {}, '2001:db8:1:2::ffff')).statusCode).toBe(429);
    expect((await guest(a, {}, '2001:db8:1:3::1')).statusCode).toBe(200);
  });

  it('reads the client address from the last hop of a configured proxy header only', async () => {
    const a = build({ perMinute: 1, burst: 1, proxyHeader: 'X-Forwarded-For' }, { now: 0 });
    expect((await guest(a, { 'x-forwarded-for': 'forged, 192.0.2.1' }, '10.0.0.1')).statusCode).toBe(200);
    expect((await guest(a, { 'x-forwarded-for': 'another-forgery, 192.0.2.1' }, '10.0.0.1')).statusCode).toBe(429);
    expect((await guest(a, { 'x-forwarded-for': '192.0.2.2' }, '10.0.0.1')).statusCode).toBe(200);
    // Without the header set, a forwarded header is ignored: the peer counts.
    const direct = build({ perMinute: 1, burst: 1 }, { now: 0 });
    expect((await guest(direct, { 'x-forwarded-for': '192.0.2.3' }, '10.0.0.1')).statusCode).toBe(200);
    expect((await guest(direct, { 'x-forwarded-for': '192.0.2.4' }, '10.0.0.1')).statusCode).toBe(429);
  });
});

describe('SourceLimiter', () => {
  it('forgets refilled sources and never tracks more than its maximum', () => {
    const limiter = new SourceLimiter(60, 1, 3);
    for (const s of ['a', 'b', 'c', 'd']) expect(limiter.take(s, 0)).toBe(0);
    expect(limiter.size).toBe(3);
    // `a` was forgotten to make room for `d`: it starts with a full bucket again; `d` is empty.
    expect(limiter.take('a', 0)).toBe(0);
    expect(limiter.take('d', 0)).toBe(1000);
    limiter.sweep(1000);
    expect(limiter.size).toBe(0);
  });
});

describe('websocket tokens on the HTTP API', () => {
  it('are refused with 401 even when they carry admin, and cannot mint another', async () => {
    app = Fastify();
    registerTokenRoutes(app, { verify, sign, guestLimit: { perMinute: 60, burst: 60 } });
    const history = { size: 10, ttlMs: 60_000 };
    const routing = { policyOf: () => history, channelOf: (stream: string) => stream };
    registerRoutes(app, {
      hub: new Hub(new MemoryBroker(), { publish: () => 0 }, routing, { windowSize: 0, maxReplay: 10, log: createLog('test', 'error') }),
      links: { size: 0 } as never,
      metrics: { render: () => '' } as never,
      verify,
      monolithId: 'm',
    });
    const primary = await sign({ sub: 'ops', admin: true }, 600);
    const minted = await app.inject({ method: 'POST', url: '/api/tokens/ws', headers: { authorization: `Bearer ${primary}` } });
    expect(minted.statusCode).toBe(200);
    const ws = (minted.json() as { token: string }).token;
    const broadcast = (token: string) =>
      app!.inject({ method: 'POST', url: '/api/rooms/lobby/broadcast', headers: { authorization: `Bearer ${token}` }, payload: { event: 'x' } });
    expect((await broadcast(primary)).statusCode).toBe(202);
    const refused = await broadcast(ws);
    expect(refused.statusCode).toBe(401);
    // The socket's error fields exactly (README, monolith HTTP API): no other spelling of the code.
    expect(refused.json()).toEqual({ code: 'token_rejected', message: 'a websocket token is accepted on the socket only', human: expect.any(String) });
    expect((await app.inject({ method: 'POST', url: '/api/tokens/ws', headers: { authorization: `Bearer ${ws}` } })).statusCode).toBe(401);
  });
});
