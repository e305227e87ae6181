import { describe, expect, it } from 'vitest';
import { ApiEvent, CloseCode, ErrorCode, ServerEvent } from '@gateway/protocol';
import { sessionsHarness, settle } from '../../testing/sessions-harness.js';
import { SessionEvent, SessionState } from './session-states.js';

// The auth state machine's races and re-auths, per the contract client-session.ts and the README
// (Client protocol 1-6) state: a verification that settles after its socket ended sends nothing,
// frames sent while the first token is verified follow the join in order (or never leave the
// balancer), and a re-auth refreshes, elevates or leaves the session as it was.

type H = ReturnType<typeof sessionsHarness>;
type Opened = ReturnType<H['open']>;

const linkFrames = (h: H) => h.toLink.map((f) => JSON.parse(f) as Record<string, unknown>);
const replies = (o: Opened) => o.ws.sent.map((f) => JSON.parse(f) as Record<string, unknown>);

/** Opens a socket and authenticates it as `subject` (room `user:<subject>`, joined). */
async function opened(h: H, subject = 'alice', pathRoom?: string): Promise<Opened> {
  const o = h.open('203.0.113.1', pathRoom);
  await h.auth(o.socket, subject);
  expect(o.s.state).toBe(SessionState.OPEN);
  h.toLink.length = 0;
  return o;
}

describe('Sessions: a pending first verification whose socket ends', () => {
  /** Ends a VERIFYING session; returns the close code the client gets (none when it left). */
  const endings: [string, (h: H, o: Opened) => number | undefined][] = [
    ['the client closes the socket', (h, o) => (h.sessions.closed(o.socket, 1006), undefined)],
    ['AUTH_TIMEOUT_MS passes (VERIFY_TIMEOUT)', (h) => ((h.clock.ms += h.config.AUTH_TIMEOUT_MS), h.sessions.sweep(), CloseCode.VERIFY_TIMEOUT)],
    ['the balancer drains', (h, o) => (h.sessions.close(o.s, SessionEvent.DRAIN, 'DRAINING'), CloseCode.DRAINING)],
    ['a second auth frame arrives (FLOOD: one auth in flight)', (h, o) => (h.send(o.socket, { action: 'auth', token: 'bob' }), CloseCode.FLOOD)],
  ];
  const outcomes: [string, (v: H['held'][number]) => Promise<void>][] = [
    ['accepted', (v) => v.accept()],
    ['refused', (v) => v.refuse('invalid')],
  ];
  for (const [ending, end] of endings) {
    for (const [outcome, settleIt] of outcomes) {
      it(`${ending}; the token is ${outcome} later: nothing is sent, nothing is left`, async () => {
        const h = sessionsHarness();
        const o = h.open();
        h.send(o.socket, { action: 'auth', token: 'held-alice', _id: 1 });
        h.send(o.socket, { event: 'ping', _id: 2 });
        expect(o.s.state).toBe(SessionState.VERIFYING);
        const code = end(h, o);
        expect(o.s.state).toBe(SessionState.CLOSED);
        expect(o.ws.ended?.code).toBe(code);
        // uWS reports the end of the sockets the balancer closes too.
        if (code !== undefined) h.sessions.closed(o.socket, code);
        await settleIt(h.held[0]!);
        expect(h.held.map((v) => v.token)).toEqual(['held-alice']);
        expect(h.toLink).toEqual([]);
        expect(o.ws.sent).toEqual([]);
        expect(o.ws.ended?.code).toBe(code);
        expect(o.s.state).toBe(SessionState.CLOSED);
        expect(h.sessions.all.size).toBe(0);
        expect(h.admission.unauthenticated).toBe(0);
      });
    }
  }

  it('a socket closed while its re-auth verifies: one leave to the owner, nothing after', async () => {
    const h = sessionsHarness();
    const o = await opened(h);
    h.send(o.socket, { event: ApiEvent.REQUEST_ELEVATION, _id: 3, data: { token: 'held-bob' } });
    h.sessions.closed(o.socket, 1001);
    await h.held[0]!.accept();
    expect(linkFrames(h)).toEqual([{ type: 'leave', room: 'user:alice', id: o.s.id }]);
    expect(o.ws.sent).toEqual([]);
    expect(h.sessions.all.size).toBe(0);
  });
});

describe('Sessions: frames sent while the first token is verified', () => {
  it('are forwarded after the join, in the order sent, in the session’s envelope', async () => {
    const h = sessionsHarness();
    const o = h.open();
    h.send(o.socket, { action: 'auth', token: 'held-alice' });
    for (const n of [1, 2, 3]) h.send(o.socket, { event: 'echo', _id: n, data: { n } });
    expect(h.toLink).toEqual([]);
    await h.held[0]!.accept();
    expect(o.s.state).toBe(SessionState.OPEN);
    const [join, ...forwarded] = linkFrames(h);
    expect(join).toMatchObject({ type: 'join', room: 'user:alice', id: o.s.id });
    expect(forwarded).toEqual([1, 2, 3].map((n) => ({ type: 'message', id: o.s.id, message: { event: 'echo', _id: n, data: { n } } })));
  });

  it('close with FLOOD past 32, and the queue is never forwarded', async () => {
    const h = sessionsHarness({ MESSAGE_BURST: '100' });
    const o = h.open();
    h.send(o.socket, { action: 'auth', token: 'held-alice' });
    for (let n = 1; n <= 32; n++) h.send(o.socket, { event: 'echo', _id: n });
    expect(o.ws.ended).toBeUndefined();
    h.send(o.socket, { event: 'echo', _id: 33 });
    expect(o.ws.ended?.code).toBe(CloseCode.FLOOD);
    await h.held[0]!.accept();
    expect(h.toLink).toEqual([]);
  });

  // A first auth that fails closes (reconnect or terminal per the code); it never answers an error.
  const failures: [string, number, (h: H) => Promise<void>][] = [
    ['a refused token closes with its reason’s code', CloseCode.TOKEN_INVALID, (h) => h.held[0]!.refuse('invalid')],
    ['an expired token closes with TOKEN_EXPIRED', CloseCode.TOKEN_EXPIRED, (h) => h.held[0]!.refuse('expired')],
    ['no linked monolith closes with NO_MONOLITH', CloseCode.NO_MONOLITH, (h) => ((h.routing.linked = false), h.held[0]!.accept())],
  ];
  for (const [name, code, fail] of failures) {
    it(`are dropped when verification fails: ${name}`, async () => {
      const h = sessionsHarness();
      const o = h.open();
      h.send(o.socket, { action: 'auth', token: 'held-alice' });
      h.send(o.socket, { event: 'echo', _id: 1 });
      await fail(h);
      expect(o.s.state).toBe(SessionState.CLOSED);
      expect(o.ws.ended?.code).toBe(code);
      expect(h.toLink).toEqual([]);
      expect(o.ws.sent).toEqual([]);
    });
  }

  it('are dropped when the auth frame asks for someone else’s room: FORBIDDEN_ROOM', async () => {
    const h = sessionsHarness();
    const o = h.open();
    h.send(o.socket, { action: 'auth', token: 'held-alice', room: 'user:bob' });
    h.send(o.socket, { event: 'echo', _id: 1 });
    await h.held[0]!.accept();
    expect(o.ws.ended?.code).toBe(CloseCode.FORBIDDEN_ROOM);
    expect(h.toLink).toEqual([]);
  });

  it('an elevation among them is answered by the balancer once open, not forwarded', async () => {
    const h = sessionsHarness();
    const o = h.open();
    h.send(o.socket, { action: 'auth', token: 'held-alice' });
    h.send(o.socket, { event: ApiEvent.REQUEST_ELEVATION, _id: 5, data: { token: 'bob' } });
    await h.held[0]!.accept();
    expect(linkFrames(h).map((f) => [f.type, f.room])).toEqual([['join', 'user:alice'], ['leave', 'user:alice'], ['join', 'user:bob']]);
    expect(replies(o)).toEqual([{ event: ApiEvent.REQUEST_ELEVATION, _id: 5, data: { result: true } }]);
    expect(o.s.subject).toBe('bob');
  });
});

describe('Sessions: re-auth while open', () => {
  it('same subject, new token: a refresh — `token` to the owner, `refreshed`, channels and room kept, new expiry', async () => {
    const h = sessionsHarness();
    const o = await opened(h);
    o.ws.subscribe('m1/guild-channel');
    h.clock.ms += 30 * 60_000;
    h.send(o.socket, { action: 'auth', token: 'alice#2', _id: 9 });
    await settle();
    expect(linkFrames(h)).toEqual([{ type: 'token', token: 'alice#2', room: 'user:alice', id: o.s.id }]);
    expect(replies(o)).toEqual([{ event: ServerEvent.REFRESHED, _id: 9, data: { exp: Math.floor((h.clock.ms + 3_600_000) / 1000) } }]);
    expect([...o.ws.topics]).toEqual(['m1/guild-channel']);
    h.send(o.socket, { event: 'echo', _id: 10 });
    // Envelopes carry the id only: the owner acts under the token the `token` frame brought.
    expect(linkFrames(h).at(-1)).toEqual({ type: 'message', id: o.s.id, message: { event: 'echo', _id: 10 } });
    // Past the first token's expiry, within the second's.
    h.clock.ms += 40 * 60_000;
    h.sessions.sweep();
    expect(o.s.state).toBe(SessionState.OPEN);
    h.clock.ms += 30 * 60_000;
    h.sessions.sweep();
    expect(o.ws.ended?.code).toBe(CloseCode.TOKEN_EXPIRED);
  });

  it('request_elevation to the same subject is a refresh too, answered {result: true}', async () => {
    const h = sessionsHarness();
    const o = await opened(h);
    o.ws.subscribe('m1/guild-channel');
    h.send(o.socket, { event: ApiEvent.REQUEST_ELEVATION, _id: 4, data: { token: 'alice#2' } });
    await settle();
    expect(linkFrames(h)).toEqual([{ type: 'token', token: 'alice#2', room: 'user:alice', id: o.s.id }]);
    expect(replies(o)).toEqual([{ event: ApiEvent.REQUEST_ELEVATION, _id: 4, data: { result: true } }]);
    expect(o.ws.topics.size).toBe(1);
  });

  // A new subject leaves the old room and joins the new one; its welcome comes from the new owner.
  const elevations: [string, object, object[], object][] = [
    ['an auth frame (the welcome will echo its _id)', { action: 'auth', token: 'bob', _id: 6 }, [], { _id: 6 }],
    ['request_elevation (answered here)', { event: ApiEvent.REQUEST_ELEVATION, _id: 6, data: { token: 'bob' } }, [{ event: ApiEvent.REQUEST_ELEVATION, _id: 6, data: { result: true } }], {}],
  ];
  for (const [name, frame, sent, join] of elevations) {
    it(`a new subject by ${name}: leave, join the new room, the old identity’s channels dropped`, async () => {
      const h = sessionsHarness();
      const o = await opened(h);
      o.ws.subscribe('m1/guild-channel');
      h.send(o.socket, frame);
      await settle();
      expect(linkFrames(h)).toEqual([
        { type: 'leave', room: 'user:alice', id: o.s.id },
        { type: 'join', token: 'bob', room: 'user:bob', id: o.s.id, ...join },
      ]);
      expect(replies(o)).toEqual(sent);
      expect(o.ws.topics.size).toBe(0);
      expect([o.s.state, o.s.subject, o.s.room]).toEqual([SessionState.OPEN, 'bob', 'user:bob']);
    });
  }

  const pathRooms: [string, string, string][] = [
    ['a public URL room carries over', 'lobby', 'lobby'],
    ['a private URL room does not (it was the old identity’s)', 'user:alice', 'user:bob'],
  ];
  for (const [name, pathRoom, joined] of pathRooms) {
    it(`on elevation, ${name}`, async () => {
      const h = sessionsHarness();
      const o = await opened(h, 'alice', pathRoom);
      h.send(o.socket, { event: ApiEvent.REQUEST_ELEVATION, _id: 1, data: { token: 'bob' } });
      await settle();
      expect(linkFrames(h).at(-1)).toMatchObject({ type: 'join', room: joined });
    });
  }

  // Each is answered; the session stays as it was (identity, room, token, channels, expiry).
  const refusals: [string, object, Record<string, unknown>][] = [
    ['a bad token by auth', { action: 'auth', token: 'bad-x', _id: 2 }, { event: 'error', _id: 2, code: ErrorCode.TOKEN_REJECTED }],
    ['a bad token by request_elevation', { event: ApiEvent.REQUEST_ELEVATION, _id: 2, data: { token: 'bad-x' } }, { event: ApiEvent.REQUEST_ELEVATION, _id: 2, data: { result: false } }],
    ['someone else’s room', { action: 'auth', token: 'bob', room: 'user:carol', _id: 2 }, { event: 'error', _id: 2, code: ErrorCode.FORBIDDEN }],
    ['a malformed request_elevation', { event: ApiEvent.REQUEST_ELEVATION, _id: 2, data: { token: 5 } }, { event: 'error', _id: 2, code: ErrorCode.BAD_REQUEST }],
    ['a malformed auth frame', { action: 'auth', _id: 2 }, { event: 'error', _id: 2, code: ErrorCode.BAD_REQUEST }],
  ];
  for (const [name, frame, reply] of refusals) {
    it(`refused (${name}): answered, the session as it was`, async () => {
      const h = sessionsHarness();
      const o = await opened(h);
      o.ws.subscribe('m1/guild-channel');
      const before = { ...o.s };
      h.send(o.socket, frame);
      await settle();
      expect(replies(o)).toEqual([expect.objectContaining(reply)]);
      expect(h.toLink).toEqual([]);
      expect(o.ws.ended).toBeUndefined();
      expect(o.s).toMatchObject({ state: SessionState.OPEN, subject: before.subject, room: before.room, deadline: before.deadline });
      expect(o.ws.topics.size).toBe(1);
    });
  }

  // `authSeq`: only the newest verification applies, whichever settles first; the superseded
  // request is not answered.
  for (const order of [['held-bob', 'held-carol'], ['held-carol', 'held-bob']]) {
    it(`two elevations in flight, settled ${order.join(' then ')}: only the newer (carol) applies`, async () => {
      const h = sessionsHarness();
      const o = await opened(h);
      h.send(o.socket, { event: ApiEvent.REQUEST_ELEVATION, _id: 1, data: { token: 'held-bob' } });
      h.send(o.socket, { event: ApiEvent.REQUEST_ELEVATION, _id: 2, data: { token: 'held-carol' } });
      for (const token of order) await h.held.find((v) => v.token === token)!.accept();
      expect(linkFrames(h).map((f) => [f.type, f.room])).toEqual([['leave', 'user:alice'], ['join', 'user:carol']]);
      expect(replies(o)).toEqual([{ event: ApiEvent.REQUEST_ELEVATION, _id: 2, data: { result: true } }]);
      expect(o.s.subject).toBe('carol');
    });
  }
});
