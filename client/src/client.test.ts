import WsSocket from 'ws';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import type { LogEntry, WelcomeData } from '@gateway/protocol';
import { CloseCode } from '@gateway/protocol/codes';
import { ClientErrorCode, GatewayError, POOL_PAGE, ReconnectPolicy, connect, type CloseInfo, type Gateway, type LogPoolChange, type Recovery, type SocketFactory, type State } from './index.js';
import { FakeSocket } from '../../testing/fake-socket.js';

// The SDK's request matching, chunked replies, queueing and reconnect policy against a fake
// socket and a fake clock: no process, no real time.

const clients: Gateway[] = [];
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  FakeSocket.all = [];
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** Runs what is due now: resolved promises (getToken), then timers at the current time. */
const settle = () => vi.advanceTimersByTimeAsync(0);

const welcome = { event: 'welcome', data: { id: 'c1', room: 'lobby', user: { id: 'alice', name: null, guest: false }, permissions: { admin: false, guilds: {} }, monolith: 'm1' } };

async function open(opts: Partial<Parameters<typeof connect>[0]> = {}) {
  const states: State[] = [];
  const errors: GatewayError[] = [];
  const client = connect({ url: ['ws://a', 'ws://b'], getToken: () => 'tok', WebSocket: FakeSocket, requestTimeoutMs: 1000, ...opts });
  clients.push(client);
  client.on('state', (s) => void states.push(s as State));
  client.on('error', (e) => void errors.push(e as GatewayError));
  await settle();
  const ws = FakeSocket.all.at(-1)!;
  ws.accept();
  ws.push(welcome);
  return { client, ws, states, errors };
}

/** Catches a rejection now so it is not reported as unhandled before the test awaits it. */
function outcome<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: GatewayError }> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: GatewayError) => ({ ok: false as const, error }),
  );
}

describe('ReconnectPolicy', () => {
  it('stops on terminal codes and retries the reconnect range and a network drop', () => {
    const policy = new ReconnectPolicy({}, () => 0.5);
    for (const code of [CloseCode.AUTH_TIMEOUT, CloseCode.TOKEN_INVALID, CloseCode.FORBIDDEN_ROOM, CloseCode.FLOOD, 1000, 1008]) expect(policy.next(code)).toBeUndefined();
    for (const code of [CloseCode.DRAINING, CloseCode.NO_MONOLITH, CloseCode.TOKEN_EXPIRED, CloseCode.VERIFY_TIMEOUT, 1001, 1006]) expect(policy.next(code)).toBeTypeOf('number');
  });

  it('draws a full-jitter delay under a ceiling that doubles per attempt up to the cap, and starts over on reset', () => {
    const almostOne = new ReconnectPolicy({ baseMs: 100, capMs: 1000 }, () => 0.999);
    expect([1, 2, 3, 4, 5, 6].map(() => almostOne.next(1006))).toEqual([99, 199, 399, 799, 999, 999]);
    almostOne.reset();
    expect(almostOne.next(1006)).toBe(99);
    // A terminal code draws nothing and does not advance the attempt.
    expect(almostOne.next(CloseCode.TOKEN_INVALID)).toBeUndefined();
    expect(almostOne.next(1006)).toBe(199);
    expect(new ReconnectPolicy({ baseMs: 100, capMs: 1000 }, () => 0).next(1006)).toBe(0);
    // Defaults: 250 ms, then doubling.
    expect(new ReconnectPolicy({}, () => 0.5).next(1006)).toBe(125);
  });
});

describe('GatewayClient requests', () => {
  it('sends auth first, then matches replies to requests by _id whatever their order', async () => {
    const { client, ws } = await open();
    expect(ws.sent[0]).toEqual({ action: 'auth', token: 'tok' });
    const a = client.request('echo', { n: 1 });
    const b = client.request('echo', { n: 2 });
    const [ra, rb] = ws.requests('echo');
    expect(ra).toMatchObject({ event: 'echo', data: { n: 1 } });
    expect(ra!._id).not.toBe(rb!._id);
    ws.push({ event: 'echo', _id: rb!._id, data: 'second' });
    ws.push({ event: 'echo', _id: ra!._id, data: 'first' });
    expect(await a).toBe('first');
    expect(await b).toBe('second');
  });

  it('rejects with the catalogued code and human text of an error reply; an uncatalogued code is internal', async () => {
    const { client, ws } = await open();
    const denied = outcome(client.request('pool_request', {}));
    const odd = outcome(client.request('pool_request', {}));
    const [first, second] = ws.requests('pool_request');
    ws.push({ event: 'error', _id: first!._id, code: 'forbidden', message: 'not your guild', human: 'You do not have permission to do that.' });
    ws.push({ event: 'error', _id: second!._id, code: 'made_up', message: 'x' });
    const d = await denied;
    expect(d.ok).toBe(false);
    expect(!d.ok && d.error).toBeInstanceOf(GatewayError);
    expect(!d.ok && [d.error.code, d.error.message, d.error.human]).toEqual(['forbidden', 'not your guild', 'You do not have permission to do that.']);
    const o = await odd;
    expect(!o.ok && o.error.code).toBe('internal');
  });

  it('a reply with no pending _id is an event, not a resolution; a push with the same event name does not settle a request', async () => {
    const { client, ws } = await open();
    const seen: unknown[] = [];
    client.on('echo', (data) => void seen.push(data));
    const pending = outcome(client.request('echo', 1));
    ws.push({ event: 'echo', data: 'a push' });
    ws.push({ event: 'echo', _id: 999, data: 'stray' });
    expect(seen).toEqual(['a push', 'stray']);
    ws.reply('echo', 'mine');
    expect(await pending).toEqual({ ok: true, value: 'mine' });
    expect(seen).toEqual(['a push', 'stray']);
  });

  it('times out with timeout; the late reply is then treated as an event', async () => {
    const { client, ws } = await open();
    const late: unknown[] = [];
    client.on('slow', (d) => void late.push(d));
    const r = outcome(client.request('slow', null, { timeout: 500 }));
    await vi.advanceTimersByTimeAsync(499);
    ws.push({ event: 'other', data: 0 });
    await vi.advanceTimersByTimeAsync(1);
    const res = await r;
    expect(!res.ok && res.error.code).toBe(ClientErrorCode.TIMEOUT);
    ws.reply('slow', 'too late');
    expect(late).toEqual(['too late']);
  });

  it('queues requests until welcome and sends them in order; past maxQueued it refuses queue_full', async () => {
    const client = connect({ url: 'ws://a', getToken: () => 'tok', WebSocket: FakeSocket, maxQueued: 2 });
    clients.push(client);
    const a = client.request('one');
    const b = client.request('two');
    const c = outcome(client.request('three'));
    expect(await c).toMatchObject({ ok: false, error: { code: ClientErrorCode.QUEUE_FULL } });
    await settle();
    const ws = FakeSocket.all[0]!;
    ws.accept();
    expect(ws.sent.map((f) => f.action ?? f.event)).toEqual(['auth']);
    ws.push(welcome);
    expect(ws.sent.map((f) => f.action ?? f.event)).toEqual(['auth', 'one', 'two']);
    ws.reply('one', 1);
    ws.reply('two', 2);
    expect([await a, await b]).toEqual([1, 2]);
  });

  it('rejects in-flight requests with disconnected when the socket drops, and everything with closed after close()', async () => {
    const { client, ws } = await open();
    const inFlight = outcome(client.request('x'));
    ws.drop(1006);
    expect(await inFlight).toMatchObject({ ok: false, error: { code: ClientErrorCode.DISCONNECTED } });
    const queued = outcome(client.request('y'));
    client.close();
    expect(await queued).toMatchObject({ ok: false, error: { code: ClientErrorCode.CLOSED } });
    expect(await outcome(client.request('z'))).toMatchObject({ ok: false, error: { code: ClientErrorCode.CLOSED } });
  });
});

describe('chunked replies (pool_all_request)', () => {
  it('poolAll yields each chunk of one _id in order and ends at finished', async () => {
    const { client, ws } = await open();
    const got: unknown[][] = [];
    const done = (async () => {
      for await (const chunk of client.poolAll('member', '1', undefined, { limit: 3 })) got.push(chunk.map((e) => e.id));
    })();
    const [req] = ws.requests('pool_all_request');
    expect(req!.data).toEqual({ type: 'member', guild_id: '1', limit: 3 });
    ws.push({ event: 'pool_all_request', _id: req!._id, data: { data: [{ id: 'a' }, { id: 'b' }], finished: false } });
    ws.push({ event: 'pool_all_request', _id: req!._id, data: { data: [{ id: 'c' }], finished: true } });
    // A chunk after `finished` belongs to no request.
    ws.push({ event: 'pool_all_request', _id: req!._id, data: { data: [{ id: 'late' }], finished: true } });
    await done;
    expect(got).toEqual([['a', 'b'], ['c']]);
  });

  it('poolAll asks page by page (POOL_PAGE), the next one from the cursor of the last; a caller that stops asks for nothing more', async () => {
    const { client, ws } = await open();
    const got: string[] = [];
    const unsolicited: unknown[] = [];
    client.on('pool_all_request', (data) => void unsolicited.push(data));
    let taken = () => {};
    const tookTwo = new Promise<void>((resolve) => (taken = resolve));
    const done = (async () => {
      for await (const chunk of client.poolAll('member', '1')) {
        got.push(...chunk.map((e) => e.id));
        if (got.length === 2) {
          taken();
          break;
        }
      }
    })();
    const [first] = ws.requests('pool_all_request');
    expect(first!.data).toEqual({ type: 'member', guild_id: '1', limit: POOL_PAGE });
    // The page ends at its limit: `finished` with the cursor to go on from.
    ws.push({ event: 'pool_all_request', _id: first!._id, data: { data: [{ id: 'a' }], finished: true, cursor: 'after-a' } });
    await settle();
    const [, second] = ws.requests('pool_all_request');
    expect(second!.data).toEqual({ type: 'member', guild_id: '1', cursor: 'after-a', limit: POOL_PAGE });
    ws.push({ event: 'pool_all_request', _id: second!._id, data: { data: [{ id: 'b' }], finished: false } });
    await tookTwo;
    await done;
    // The rest of the page still arrives: dropped, and no third page is asked for.
    ws.push({ event: 'pool_all_request', _id: second!._id, data: { data: [{ id: 'c' }], finished: true, cursor: 'after-c' } });
    expect(got).toEqual(['a', 'b']);
    expect(ws.requests('pool_all_request')).toHaveLength(2);
    expect(unsolicited).toEqual([]);
  });

  it('poolAll spreads a limit over pages (2,500: 2,000 then 500) and ends at it', async () => {
    const { client, ws } = await open();
    let total = 0;
    const done = (async () => {
      for await (const chunk of client.poolAll('member', '1', undefined, { limit: 2_500 })) total += chunk.length;
    })();
    const page = (n: number, from: number) => Array.from({ length: n }, (_, i) => ({ id: String(from + i) }));
    const [first] = ws.requests('pool_all_request');
    expect(first!.data).toMatchObject({ limit: POOL_PAGE });
    ws.push({ event: 'pool_all_request', _id: first!._id, data: { data: page(POOL_PAGE, 0), finished: true, cursor: 'c1' } });
    await settle();
    const [, second] = ws.requests('pool_all_request');
    expect(second!.data).toMatchObject({ cursor: 'c1', limit: 500 });
    ws.push({ event: 'pool_all_request', _id: second!._id, data: { data: page(500, POOL_PAGE), finished: true, cursor: 'c2' } });
    await done;
    expect({ total, requests: ws.requests('pool_all_request').length }).toEqual({ total: 2_500, requests: 2 });
  });

  it('pool gathers the chunks of a large pool_request into one result; an error (then the final chunk) rejects', async () => {
    const { client, ws } = await open();
    const result = client.pool('member', ['1234567', '2345678', '3456789'], '1');
    const [req] = ws.requests('pool_request');
    ws.push({ event: 'pool_response', _id: req!._id, data: { data: [{ id: '1234567' }], nonexistent: [], finished: false } });
    ws.push({ event: 'pool_response', _id: req!._id, data: { data: [{ id: '3456789' }], nonexistent: ['2345678'], finished: true } });
    expect(await result).toEqual({ data: [{ id: '1234567' }, { id: '3456789' }], nonexistent: ['2345678'] });
    const refused = outcome(client.pool('member', ['1234567'], '2'));
    const [, again] = ws.requests('pool_request');
    ws.push({ event: 'error', _id: again!._id, code: 'forbidden', message: 'guild 2 is not in your token' });
    ws.push({ event: 'pool_response', _id: again!._id, data: { data: [], nonexistent: ['1234567'], finished: true, error: 'forbidden' } });
    expect(await refused).toMatchObject({ ok: false, error: { code: 'forbidden' } });
  });

  it("a refused request's remaining chunks, up to its finished one, reach no listener; later frames do", async () => {
    const { client, ws } = await open();
    const unsolicited: unknown[] = [];
    client.on('pool_response', (data) => void unsolicited.push(data));
    const refused = outcome(client.pool('member', ['1234567'], '2'));
    const search = outcome(client.searchMembers('2', 'a'));
    const [req] = ws.requests('pool_request');
    const [sreq] = ws.requests('pool_search_request');
    ws.push({ event: 'error', _id: req!._id, code: 'forbidden', message: 'guild 2 is not in your token' });
    ws.push({ event: 'error', _id: sreq!._id, code: 'forbidden', message: 'guild 2 is not in your token' });
    ws.push({ event: 'pool_response', _id: sreq!._id, data: { data: [], nonexistent: [], finished: true, error: 'forbidden' } });
    ws.push({ event: 'pool_response', _id: req!._id, data: { data: [], nonexistent: ['1234567'], finished: true, error: 'forbidden' } });
    expect(await refused).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(await search).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    // A failure mid-stream: the chunks still on their way, then the final one, are dropped too.
    const failed = outcome(
      (async () => {
        for await (const chunk of client.poolAll('member', '1')) void chunk;
      })(),
    );
    const [all] = ws.requests('pool_all_request');
    ws.push({ event: 'error', _id: all!._id, code: 'internal', message: 'internal error' });
    ws.push({ event: 'pool_response', _id: all!._id, data: { data: [{ id: 'a' }], nonexistent: [], finished: false } });
    ws.push({ event: 'pool_response', _id: all!._id, data: { data: [], nonexistent: [], finished: true, error: 'internal' } });
    expect(await failed).toMatchObject({ ok: false, error: { code: 'internal' } });
    expect(unsolicited).toEqual([]);
    // Past its finished chunk an _id is no longer swallowed.
    ws.push({ event: 'pool_response', _id: req!._id, data: { late: true } });
    expect(unsolicited).toEqual([{ late: true }]);
  });

  it('an error after some chunks throws from the iterator once those chunks were yielded', async () => {
    const { client, ws } = await open();
    const got: string[] = [];
    const done = outcome(
      (async () => {
        for await (const chunk of client.poolAll('member', '1')) got.push(...chunk.map((e) => e.id));
      })(),
    );
    const [req] = ws.requests('pool_all_request');
    ws.push({ event: 'pool_all_request', _id: req!._id, data: { data: [{ id: 'a' }], finished: false } });
    ws.push({ event: 'error', _id: req!._id, code: 'unavailable', message: 'store down' });
    const res = await done;
    expect(got).toEqual(['a']);
    expect(!res.ok && res.error.code).toBe('unavailable');
  });
});

describe('GatewayClient reconnects', () => {
  it('redials the next URL after the policy delay on a reconnect-range close, and re-sends auth', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { client, ws, states } = await open({ reconnect: { baseMs: 1000, capMs: 8000 } });
    expect(ws.url).toBe('ws://a');
    ws.drop(CloseCode.DRAINING);
    expect(client.state).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(499);
    expect(FakeSocket.all).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeSocket.all).toHaveLength(2);
    const next = FakeSocket.all[1]!;
    expect(next.url).toBe('ws://b');
    next.accept();
    expect(next.sent[0]).toMatchObject({ action: 'auth', token: 'tok' });
    next.push(welcome);
    expect(client.state).toBe('open');
    expect(states).toEqual(['authenticating', 'open', 'reconnecting', 'authenticating', 'open']);
    vi.restoreAllMocks();
  });

  it('stops for good on a terminal close: state closed, a terminal_close error naming the code, no redial', async () => {
    const { client, ws, errors } = await open();
    ws.drop(CloseCode.TOKEN_INVALID, 'invalid token');
    expect(client.state).toBe('closed');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: ClientErrorCode.TERMINAL_CLOSE, closeCode: CloseCode.TOKEN_INVALID });
    expect(errors[0]!.message).toContain('TOKEN_INVALID');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeSocket.all).toHaveLength(1);
  });

  // A synchronous throw is reported like a rejection: after connect() returned, so the listeners
  // attached right after it hear the first connect's error.
  const failures: [string, () => string | Promise<string>][] = [
    ['rejects', () => Promise.reject(new Error('auth server down'))],
    ['throws synchronously', () => {
      throw new Error('auth server down');
    }],
  ];
  for (const [how, fail] of failures) {
    it(`retries when getToken ${how} on the first connect, reporting a token error`, async () => {
      // The retry waits a full-jitter delay in [0, 100) ms: pinned to 50, since a draw below 1 ms
      // would reconnect within settle() (it did, once in a CI run).
      vi.spyOn(Math, 'random').mockReturnValue(0.5);
      let calls = 0;
      const client = connect({
        url: 'ws://a',
        WebSocket: FakeSocket,
        reconnect: { baseMs: 100, capMs: 100 },
        getToken: () => (++calls === 1 ? fail() : 'tok'),
      });
      clients.push(client);
      const errors: GatewayError[] = [];
      const states: State[] = [];
      client.on('error', (e) => void errors.push(e as GatewayError));
      client.on('state', (s) => void states.push(s as State));
      await settle();
      expect(errors.map((e) => [e.code, e.message])).toEqual([[ClientErrorCode.TOKEN, 'getToken failed: auth server down']]);
      expect(states).toEqual(['reconnecting']);
      expect(FakeSocket.all).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(100);
      expect(calls).toBe(2);
      expect(FakeSocket.all).toHaveLength(1);
    });
  }
});

describe('GatewayClient events', () => {
  it('types each handler by its event name, and any other name as unknown', async () => {
    const { client } = await open();
    // Compile-time checks (tsconfig.test.json): what a handler's `data` is per name.
    client.on('state', (s) => expectTypeOf(s).toEqualTypeOf<State>());
    client.on('error', (e) => expectTypeOf(e).toEqualTypeOf<GatewayError>());
    client.on('recovery', (r) => expectTypeOf(r).toEqualTypeOf<Recovery>());
    client.on('close', (c) => expectTypeOf(c).toEqualTypeOf<CloseInfo>());
    client.on('welcome', (w) => expectTypeOf(w).toEqualTypeOf<WelcomeData>());
    client.on('log_other', (entry) => expectTypeOf(entry).toEqualTypeOf<LogEntry>());
    client.on('log_pool', (change) => expectTypeOf(change).toEqualTypeOf<LogPoolChange>());
    client.on('tick', (d, msg) => {
      expectTypeOf(d).toBeUnknown();
      expectTypeOf(msg).toEqualTypeOf<Record<string, unknown>>();
    });
    const name: string = 'state';
    client.on(name, (d) => expectTypeOf(d).toBeUnknown());
    expectTypeOf(client.welcome).toEqualTypeOf<WelcomeData | undefined>();
  });

  it("takes ws's and the browser's WebSocket classes uncast", () => {
    expectTypeOf(WsSocket).toExtend<SocketFactory>();
    expectTypeOf(globalThis.WebSocket).toExtend<SocketFactory>();
  });

  it('reports an error frame that answers no request (a refused token refresh) as a GatewayError', async () => {
    const { client, ws, errors } = await open();
    const frames: Record<string, unknown>[] = [];
    client.on('error', (_e, msg) => void frames.push(msg));
    ws.push({ event: 'error', code: 'token_rejected', message: 'bad signature', human: 'Please sign in again.' });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(GatewayError);
    expect([errors[0]!.code, errors[0]!.message, errors[0]!.human]).toEqual(['token_rejected', 'bad signature', 'Please sign in again.']);
    expect(frames).toEqual([expect.objectContaining({ event: 'error', code: 'token_rejected' })]);
    expect(client.state).toBe('open');
  });

  it('does not dispatch a push named like one of its own events (state, recovery, close)', async () => {
    const { client, ws, states } = await open();
    const seen: unknown[] = [];
    client.on('recovery', (r) => void seen.push(r));
    client.on('close', (c) => void seen.push(c));
    for (const event of ['state', 'recovery', 'close']) ws.push({ event, data: 'from a broadcast' });
    expect(states).toEqual(['authenticating', 'open']);
    expect(seen).toEqual([]);
    ws.drop(1006);
    expect(seen).toEqual([{ code: 1006, reason: '', name: undefined }]);
  });
});
