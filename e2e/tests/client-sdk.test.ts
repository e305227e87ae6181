import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '@gateway/protocol';
import { ClientErrorCode, connect, gatewayMiddleware, gatewayRequest, GatewayError, type Gateway, type SocketFactory, type State } from '../../client/src/index.js';
import { guestToken, nowS, startBalancer, startMonolith, uniq, useHarness, userToken, waitFor, type BalancerHandle, type MonolithHandle } from '../harness/index.js';
import { postLog, logEntry } from '../harness/gateway-http.js';

useHarness();

const GUILD = '1234567890';
let monolith: MonolithHandle;
let balancers: BalancerHandle[];
const clients: Gateway[] = [];

beforeAll(async () => {
  monolith = await startMonolith({ env: { DEMO_FIXTURE: 'true' } });
  balancers = [await startBalancer({ monoliths: [monolith] }), await startBalancer({ monoliths: [monolith] })];
});
afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all([...balancers, monolith].map((h) => h.stop()));
});

function open(opts: { getToken: () => string | Promise<string>; url?: string | string[]; refreshBeforeMs?: number }): Gateway {
  const c = connect({ url: opts.url ?? balancers[0]!.url(), getToken: opts.getToken, WebSocket: WebSocket as unknown as SocketFactory, reconnect: { baseMs: 50, capMs: 500 }, ...(opts.refreshBeforeMs ? { refreshBeforeMs: opts.refreshBeforeMs } : {}) });
  clients.push(c);
  return c;
}

const until = (c: Gateway, state: State) => waitFor(() => c.state === state, { what: `client state ${state}` });

describe('client SDK against a real balancer and monolith', () => {
  it('authenticates, walks its states, and matches replies and errors to requests', async () => {
    const token = await userToken({ sub: uniq('sdk'), guilds: { [GUILD]: 7 } });
    const seen: State[] = [];
    const c = open({ getToken: () => token });
    c.on('state', (s) => seen.push(s as State));
    await until(c, 'open');
    expect(seen).toEqual(['authenticating', 'open']);
    expect(c.welcome).toMatchObject({ room: expect.stringMatching(/^user:sdk-/) });
    expect(await c.request('ping', { n: 1 })).toEqual({ n: 1 });
    const err = await c.request('nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ code: 'unknown_event' });
  });

  it('offers the gateway API: spectate pushes, streamed pools, member search, the mock bot', async () => {
    const c = open({ getToken: () => userToken({ sub: uniq('api'), guilds: { [GUILD]: 7 } }) });
    await until(c, 'open');
    const logs: unknown[] = [];
    c.on('log_other', (d) => logs.push(d));
    await c.spectate(GUILD, true);
    expect(await postLog(monolith, logEntry(GUILD, '77'))).toBe(202);
    await waitFor(() => logs.length === 1, { what: 'a log_other push' });
    let total = 0;
    let chunks = 0;
    for await (const chunk of c.poolAll('member', GUILD)) {
      total += chunk.length;
      chunks++;
    }
    expect(chunks).toBeGreaterThan(1);
    expect(total).toBeGreaterThan(1000);
    expect((await c.searchMembers(GUILD, 'ali')).map((m) => m.name)).toEqual(expect.arrayContaining(['alice', 'Alicia']));
    expect(await c.interpret({ guild_id: GUILD, message_id: '10', content: 'hello' })).toMatchObject({ content: 'Hello there!' });
  });

  it('elevates a guest without reconnecting', async () => {
    const c = open({ getToken: () => guestToken() });
    await until(c, 'open');
    const sub = uniq('elev');
    expect(await c.elevate(await userToken({ sub }))).toBe(true);
    await waitFor(() => (c.welcome as { room?: string }).room === `user:${sub}`, { what: 'the new welcome' });
    expect(await c.elevate('not a token')).toBe(false);
  });

  it('reconnects with back-off when its balancer dies, queues requests meanwhile, and re-spectates', async () => {
    let tokens = 0;
    const c = open({ url: [balancers[1]!.url(), balancers[0]!.url()], getToken: () => (tokens++, userToken({ sub: uniq('re'), guilds: { [GUILD]: 7 } })) });
    await until(c, 'open');
    await c.spectate(GUILD, true);
    const states: unknown[] = [];
    c.on('state', (s) => states.push(s));
    await balancers[1]!.kill();
    await until(c, 'reconnecting');
    const queued = c.request('ping', 'while away');
    await until(c, 'open');
    expect(await queued).toBe('while away');
    expect(states).toEqual(['reconnecting', 'authenticating', 'open']);
    expect(tokens).toBeGreaterThanOrEqual(2);
    // The spectate was re-issued on the new session: pushes flow again.
    const logs: unknown[] = [];
    c.on('log_other', (d) => logs.push(d));
    await waitFor(async () => (await postLog(monolith, logEntry(GUILD, String(Date.now())))) === 202 && logs.length > 0, { what: 'a push after reconnecting' });
  });

  it('refreshes its token before it expires, on the live connection', async () => {
    let calls = 0;
    const c = open({ getToken: () => (calls++, userToken({ sub: 'refresher', exp: nowS(4) })), refreshBeforeMs: 2500 });
    const refreshed: unknown[] = [];
    c.on('refreshed', (d) => refreshed.push(d));
    await until(c, 'open');
    await waitFor(() => refreshed.length > 0, { what: 'a refreshed reply', timeoutMs: 10_000 });
    expect(calls).toBe(2);
    expect(c.state).toBe('open');
    expect(await c.request('ping', 'still here')).toBe('still here');
  });

  it('stops on a terminal close code and surfaces it', async () => {
    let calls = 0;
    const errors: unknown[] = [];
    const c = open({ getToken: () => (calls++, 'not-a-jwt') });
    c.on('error', (e) => errors.push(e));
    await until(c, 'closed');
    expect(errors).toEqual([expect.objectContaining({ code: ClientErrorCode.TERMINAL_CLOSE, closeCode: CloseCode.TOKEN_INVALID })]);
    expect(calls).toBe(1);
    await expect(c.request('ping')).rejects.toMatchObject({ code: ClientErrorCode.CLOSED });
  });

  it('gives redux REST-like start/success/failure actions', async () => {
    const c = open({ getToken: () => userToken() });
    await until(c, 'open');
    const actions: Array<{ type: string }> = [];
    const api = { dispatch: (a: unknown) => (actions.push(a as { type: string }), a) };
    const dispatch = gatewayMiddleware(c)(api)((a) => a) as (a: unknown) => Promise<unknown>;
    expect(await dispatch(gatewayRequest('ping', 5))).toBe(5);
    await dispatch(gatewayRequest('missing')).catch(() => undefined);
    expect(actions.map((a) => a.type)).toEqual(['ping/start', 'ping/success', 'missing/start', 'missing/failure']);
  });
});
