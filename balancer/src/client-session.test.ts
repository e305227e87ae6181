import { describe, expect, it } from 'vitest';
import { ApiEvent, CloseCode } from '@gateway/protocol';
import { FakeUwsSocket, bytes, sessionsHarness, settle } from '../../testing/sessions-harness.js';
import type { SocketData } from './client-session.js';
import { chooseRoom } from './room-policy.js';
import { SessionEvent, SessionState, TRANSITIONS, transition } from './session-states.js';
import type { WebSocket } from './uws.js';

describe('chooseRoom', () => {
  it('defaults to the subject’s own private room', () => {
    expect(chooseRoom(undefined, '42', false)).toBe('user:42');
    expect(chooseRoom(undefined, 'abc', true)).toBe('guest:abc');
  });

  it('refuses someone else’s private room and invalid names', () => {
    expect(chooseRoom('user:43', '42', false)).toBeUndefined();
    expect(chooseRoom('guest:42', '42', false)).toBeUndefined();
    expect(chooseRoom('user:42', '42', false)).toBe('user:42');
    expect(chooseRoom('has/slash', '42', false)).toBeUndefined();
    expect(chooseRoom('', '42', false)).toBeUndefined();
  });

  it('passes public rooms on to the owning monolith', () => {
    expect(chooseRoom('lobby', '42', false)).toBe('lobby');
  });
});

describe('session state table', () => {
  it('is deterministic: one target per (state, event)', () => {
    const keys = TRANSITIONS.map((t) => `${t.from}|${t.on}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('reaches OPEN only through a verified token and never leaves CLOSED', () => {
    expect(transition(SessionState.AWAITING_AUTH, SessionEvent.APP_FRAME)).toBeUndefined();
    expect(transition(SessionState.AWAITING_AUTH, SessionEvent.AUTH_FRAME)).toBe(SessionState.VERIFYING);
    expect(transition(SessionState.VERIFYING, SessionEvent.TOKEN_OK)).toBe(SessionState.OPEN);
    for (const e of Object.values(SessionEvent)) expect(transition(SessionState.CLOSED, e)).toBeUndefined();
  });

  it('names only catalogued close codes on its closing edges', () => {
    for (const t of TRANSITIONS) {
      if (!t.close) continue;
      for (const name of t.close.split(/[ ,|]+/).filter(Boolean)) {
        if (name.endsWith('*')) continue;
        expect(Object.keys(CloseCode), name).toContain(name);
      }
    }
  });
});

describe('Sessions: no push before the owner admits the connection', () => {
  // The balancer never subscribes a socket on its own: the owner sends `subscribe` for the
  // room's channel once it admitted the connection (and replayed what it missed).
  it('subscribes nothing at auth', async () => {
    const h = sessionsHarness();
    const { s, ws, socket } = h.open();
    await h.auth(socket, 'alice');
    expect(s.state).toBe(SessionState.OPEN);
    expect(JSON.parse(h.toLink.at(-1)!)).toMatchObject({ type: 'join', room: 'user:alice', id: s.id });
    expect(ws.topics.size).toBe(0);
  });

  it('passes the auth frame’s since to the owner in the join', async () => {
    const h = sessionsHarness();
    const { socket } = h.open();
    const since = { 'user:alice': { offset: 4, epoch: 'e1' } };
    h.send(socket, { action: 'auth', token: 'alice', since });
    await settle();
    expect(JSON.parse(h.toLink.at(-1)!)).toMatchObject({ type: 'join', room: 'user:alice', since });
  });

  it('on elevation drops every channel of the old identity, its room’s among them', async () => {
    const h = sessionsHarness();
    const { s, ws, socket } = h.open();
    await h.auth(socket, 'guest1');
    ws.subscribe('m1/user:guest1');
    ws.subscribe('m1/guild-channel');
    h.send(socket, { event: ApiEvent.REQUEST_ELEVATION, _id: 7, data: { token: 'carol' } });
    await settle();
    expect(s.room).toBe('user:carol');
    expect(ws.topics.size).toBe(0);
  });

  it('on a move drops the old owner’s channels: the new owner subscribes after its recovery', async () => {
    const h = sessionsHarness();
    const { ws, socket } = h.open();
    await h.auth(socket, 'dave');
    ws.subscribe('m1/user:dave');
    h.sessions.moveAll(h.link);
    expect(JSON.parse(h.toLink.at(-1)!)).toMatchObject({ type: 'join', room: 'user:dave', rejoin: true });
    expect(ws.topics.size).toBe(0);
  });
});

describe('Sessions: limits', () => {
  it('closes a frame nested deeper than MAX_JSON_DEPTH with TOO_DEEP, before it is forwarded', async () => {
    const h = sessionsHarness({ MAX_JSON_DEPTH: '4' });
    const { socket, ws } = h.open();
    await h.auth(socket, 'erin');
    const sentBefore = h.toLink.length;
    // Depth 4 (frame, data, a, b) is allowed; depth 5 is not.
    h.send(socket, { event: 'ping', _id: 1, data: { a: { b: {} } } });
    expect(h.toLink.length).toBe(sentBefore + 1);
    h.send(socket, { event: 'ping', _id: 2, data: { a: { b: { c: [] } } } });
    expect(ws.ended?.code).toBe(CloseCode.TOO_DEEP);
    expect(h.toLink.length).toBe(sentBefore + 1);
  });

  it('closes a 20,000-deep auth frame with TOO_DEEP', () => {
    const h = sessionsHarness();
    const { ws, socket } = h.open();
    h.send(socket, `{"action":"auth","token":"x","room":${'['.repeat(20_000)}${']'.repeat(20_000)}}`);
    expect(ws.ended?.code).toBe(CloseCode.TOO_DEEP);
  });

  it('counts websocket pings against MESSAGE_RATE and closes a ping flood with FLOOD', async () => {
    const h = sessionsHarness({ MESSAGE_RATE: '1', MESSAGE_BURST: '5' });
    const { socket, ws } = h.open();
    await h.auth(socket, 'frank');
    // The auth frame took one token; four pings fit, the fifth does not.
    for (let i = 0; i < 4; i++) h.sessions.ping(socket);
    expect(ws.ended).toBeUndefined();
    h.sessions.ping(socket);
    expect(ws.ended?.code).toBe(CloseCode.FLOOD);
  });

  it('counts a socket as unauthenticated until its token is verified, or until it closes', async () => {
    const h = sessionsHarness();
    const a = h.open('198.51.100.7');
    const b = h.open('198.51.100.7');
    expect(h.admission.unauthenticated).toBe(2);
    await h.auth(a.socket, 'gina');
    expect(h.admission.unauthenticated).toBe(1);
    h.sessions.closed(b.socket, 1006);
    expect(h.admission.unauthenticated).toBe(0);
    // Released once only: a later close of the authenticated socket changes nothing.
    h.sessions.closed(a.socket, 1000);
    expect(h.admission.unauthenticated).toBe(0);
  });
});

/**
 * Every edge of the state table, driven through `Sessions` with a fake socket (strict: an event
 * the table does not allow throws). A new edge without a driver here fails the last test.
 */
describe('Sessions: every edge of the state table', () => {
  type H = ReturnType<typeof sessionsHarness>;
  type Opened = ReturnType<H['open']>;
  const S = SessionState;
  const E = SessionEvent;
  const reach: Record<string, (h: H) => Promise<Opened>> = {
    [S.AWAITING_AUTH]: async (h) => h.open(),
    [S.VERIFYING]: async (h) => {
      const o = h.open();
      h.send(o.socket, { action: 'auth', token: 'slow-verifier' });
      await settle();
      return o;
    },
    [S.OPEN]: async (h) => {
      const o = h.open();
      await h.auth(o.socket, 'alice');
      return o;
    },
  };
  /** Sweeps ten hours on: past every auth deadline and token expiry. */
  const sweepLater = (h: H) => {
    h.clock.ms += 10 * 3_600_000;
    h.sessions.sweep();
  };
  /** Triggers `on` from `from`; returns the close code the client is expected to get, if any. */
  const trigger: Record<string, (h: H, o: Opened, from: string) => Promise<number | undefined>> = {
    [E.AUTH_FRAME]: async (h, o) => (h.send(o.socket, { action: 'auth', token: 'slow-too' }), await settle(), undefined),
    [E.NOT_AUTH]: async (h, o) => (h.send(o.socket, { event: 'ping' }), CloseCode.AUTH_REQUIRED),
    [E.AUTH_TIMEOUT]: async (h) => (sweepLater(h), CloseCode.AUTH_TIMEOUT),
    [E.VERIFY_TIMEOUT]: async (h) => (sweepLater(h), CloseCode.VERIFY_TIMEOUT),
    [E.LIMIT]: async (h, o) => (h.sessions.message(o.socket, bytes('{}'), true), CloseCode.MALFORMED_FRAME),
    [E.DRAIN]: async (h, o) => (h.sessions.close(o.s, E.DRAIN, 'DRAINING'), CloseCode.DRAINING),
    [E.DISCONNECT]: async (h, o) => (h.sessions.closed(o.socket, 1000), undefined),
    [E.NO_MONOLITH]: async (h, o, from) => {
      h.routing.linked = false;
      if (from === S.OPEN) h.sessions.moveAll(h.link);
      return CloseCode.NO_MONOLITH;
    },
    [E.APP_FRAME]: async (h, o) => (h.send(o.socket, { event: 'ping', _id: 1 }), await settle(), undefined),
    [E.REFRESH]: async (h, o) => (await h.auth(o.socket, 'alice'), undefined),
    [E.ELEVATE]: async (h, o) => (await h.auth(o.socket, 'bob'), undefined),
    [E.BAD_REAUTH]: async (h, o) => (await h.auth(o.socket, 'bad-token'), undefined),
    [E.EXPIRED]: async (h) => (sweepLater(h), CloseCode.TOKEN_EXPIRED),
    [E.KICK]: async (h, o) => (h.sessions.kick(o.s, CloseCode.TOKEN_INVALID, 'token refused on join'), CloseCode.TOKEN_INVALID),
  };
  /** Edges whose start needs its own setup: the token decides the outcome of VERIFYING. */
  const special: Record<string, (h: H) => Promise<{ o: Opened; code: number | undefined }>> = {
    [`${S.VERIFYING}|${E.TOKEN_OK}`]: async (h) => {
      const o = h.open();
      await h.auth(o.socket, 'carol');
      return { o, code: undefined };
    },
    [`${S.VERIFYING}|${E.TOKEN_BAD}`]: async (h) => {
      const o = h.open();
      await h.auth(o.socket, 'bad-first');
      return { o, code: CloseCode.TOKEN_INVALID };
    },
    [`${S.VERIFYING}|${E.NO_MONOLITH}`]: async (h) => {
      const o = h.open();
      h.routing.linked = false;
      await h.auth(o.socket, 'dave');
      return { o, code: CloseCode.NO_MONOLITH };
    },
    [`${S.VERIFYING}|${E.ANONYMOUS}`]: async (h) => {
      const o = h.openArchitus('203.0.113.1', 'held-cookie');
      expect(o.s.state).toBe(S.VERIFYING);
      await h.held[0]!.refuse('expired');
      return { o, code: undefined };
    },
    [`${S.VERIFYING}|${E.REFUSED}`]: async (h) => {
      const other = sessionsHarness({ ANONYMOUS_GUESTS_PER_IP: '1' });
      other.openArchitus('203.0.113.1');
      const o = other.openArchitus('203.0.113.1', 'held-cookie');
      await other.held[0]!.refuse('expired');
      return { o, code: CloseCode.RATE_LIMITED };
    },
    [`${S.AWAITING_AUTH}|${E.REFUSED}`]: async (h) => {
      const s = h.sessions.create(undefined);
      s.refuse = 'SERVER_FULL';
      const ws = new FakeUwsSocket(s);
      h.sessions.opened(ws as unknown as WebSocket<SocketData>);
      return { o: { s, ws, socket: ws as unknown as WebSocket<SocketData> }, code: CloseCode.SERVER_FULL };
    },
  };

  const covered = new Set<string>();
  for (const t of TRANSITIONS) {
    const key = `${t.from}|${t.on}`;
    it(`${t.from} --${t.on}--> ${t.to}`, async () => {
      const h = sessionsHarness();
      let o: Opened;
      let code: number | undefined;
      if (special[key]) ({ o, code } = await special[key]!(h));
      else {
        o = await reach[t.from]!(h);
        expect(o.s.state).toBe(t.from);
        code = await trigger[t.on]!(h, o, t.from);
      }
      expect(o.s.state).toBe(t.to);
      if (code !== undefined) expect(o.ws.ended?.code).toBe(code);
      else if (t.to !== S.CLOSED) expect(o.ws.ended).toBeUndefined();
      covered.add(key);
    });
  }

  it('covers every edge, and an event the table does not allow throws (strict)', async () => {
    expect([...covered].sort()).toEqual(TRANSITIONS.map((t) => `${t.from}|${t.on}`).sort());
    const h = sessionsHarness();
    const { s } = h.open();
    expect(() => h.sessions.kick(s, CloseCode.TOKEN_INVALID, 'x')).toThrow(/not allowed in state awaiting_auth/);
  });
});
