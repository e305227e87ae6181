import { describe, expect, it } from 'vitest';
import { ANONYMOUS_TOKEN, CloseCode, ErrorCode, errorFrame } from '@gateway/protocol';
import { sessionsHarness, settle } from '../../testing/sessions-harness.js';
import { SessionState } from './session-states.js';

// Architus-dialect sessions (`/authenticated`): sign-in by the upgrade's cookie, tokenless guests
// with their own budgets, and frames mapped both ways at the session (dialects/architus.ts).

type H = ReturnType<typeof sessionsHarness>;
const linkFrames = (h: H) => h.toLink.map((f) => JSON.parse(f) as Record<string, unknown>);
const received = (ws: { sent: string[] }) => ws.sent.map((f) => JSON.parse(f) as Record<string, unknown>);

describe('Sessions: architus dialect', () => {
  it('signs in with the cookie on open: no auth frame, joins the user room', async () => {
    const h = sessionsHarness();
    const o = h.openArchitus('203.0.113.1', 'alice');
    await settle();
    expect(o.s.state).toBe(SessionState.OPEN);
    expect(o.s.anonymous).toBe(false);
    expect(linkFrames(h)).toEqual([expect.objectContaining({ type: 'join', token: 'alice', room: 'user:alice', id: o.s.id })]);
    expect(h.admission.unauthenticated).toBe(0);
  });

  it('without a cookie: a tokenless guest in a room of its own, with its own budget and no expiry', () => {
    const h = sessionsHarness();
    const o = h.openArchitus('203.0.113.1');
    expect(o.s.state).toBe(SessionState.OPEN);
    expect(o.s.anonymous).toBe(true);
    expect(linkFrames(h)).toEqual([{ type: 'join', token: ANONYMOUS_TOKEN, room: `guest:anon.${o.s.id}`, id: o.s.id }]);
    expect(h.admission.unauthenticated).toBe(0);
    expect(h.admission.anonymous).toBe(1);
    h.clock.ms += 365 * 86_400_000;
    h.sessions.sweep();
    expect(o.s.state).toBe(SessionState.OPEN);
    h.sessions.closed(o.socket, 1001);
    expect(h.admission.anonymous).toBe(0);
  });

  it('a refused cookie goes on as a tokenless guest, told why in the dialect', async () => {
    const h = sessionsHarness();
    const o = h.openArchitus('203.0.113.1', 'bad-alice');
    await settle();
    expect(o.s.state).toBe(SessionState.OPEN);
    expect(o.s.anonymous).toBe(true);
    expect(received(o.ws)).toEqual([expect.objectContaining({ _event: 'error', code: 401, details: ErrorCode.TOKEN_REJECTED })]);
    expect(linkFrames(h).map((f) => f.token)).toEqual([ANONYMOUS_TOKEN]);
  });

  it('with tokenless guests off: no cookie closes with AUTH_REQUIRED, a refused cookie with its token code', async () => {
    const h = sessionsHarness({ MAX_ANONYMOUS_GUESTS: '0' });
    const bare = h.openArchitus('203.0.113.1');
    expect(bare.ws.ended?.code).toBe(CloseCode.AUTH_REQUIRED);
    const stale = h.openArchitus('203.0.113.2', 'bad-alice');
    await settle();
    expect(stale.ws.ended?.code).toBe(CloseCode.TOKEN_INVALID);
    expect(stale.ws.sent).toEqual([]);
  });

  it('refuses tokenless guests past ANONYMOUS_GUESTS_PER_IP with RATE_LIMITED; other sources are unaffected', () => {
    const h = sessionsHarness({ ANONYMOUS_GUESTS_PER_IP: '2' });
    const [a, b, c] = [1, 2, 3].map(() => h.openArchitus('203.0.113.1'));
    expect([a!.s.state, b!.s.state]).toEqual([SessionState.OPEN, SessionState.OPEN]);
    expect(c!.ws.ended?.code).toBe(CloseCode.RATE_LIMITED);
    h.sessions.closed(c!.socket, CloseCode.RATE_LIMITED);
    expect(h.admission.anonymous).toBe(2);
    expect(h.openArchitus('203.0.113.9').s.state).toBe(SessionState.OPEN);
  });

  it('tokenless guests flood at ANONYMOUS_MESSAGE_BURST, below the signed-in burst', () => {
    const h = sessionsHarness({ ANONYMOUS_MESSAGE_BURST: '3', MESSAGE_BURST: '100' });
    const o = h.openArchitus();
    for (let i = 0; i < 3; i++) h.send(o.socket, { _event: 'ping' });
    expect(o.ws.ended).toBeUndefined();
    h.send(o.socket, { _event: 'ping' });
    expect(o.ws.ended?.code).toBe(CloseCode.FLOOD);
  });

  it('forwards dialect frames as native ones, and answers in the dialect', () => {
    const h = sessionsHarness();
    const o = h.openArchitus();
    h.toLink.length = 0;
    h.send(o.socket, { _event: 'pool_request', type: 'partial_user', _seq: 7, ids: ['1000001'] });
    expect(linkFrames(h)).toEqual([expect.objectContaining({ type: 'message', id: o.s.id, message: { event: 'pool_request', _id: 's7', data: { type: 'user', ids: ['1000001'] } } })]);
    h.sessions.send(o.s, errorFrame(ErrorCode.FORBIDDEN, 'no', 's7'));
    expect(received(o.ws)).toEqual([expect.objectContaining({ _event: 'error', code: 403, seq: 7 })]);
  });

  it('a tokenless guest that elevates with a token leaves the guest budget and becomes the user', async () => {
    const h = sessionsHarness();
    const o = h.openArchitus();
    h.toLink.length = 0;
    h.send(o.socket, { _event: 'request_elevation', token: 'alice', _seq: 3 });
    await settle();
    expect(o.s.anonymous).toBe(false);
    expect(o.s.room).toBe('user:alice');
    expect(h.admission.anonymous).toBe(0);
    expect(received(o.ws)).toEqual([{ _event: 'elevation_return', seq: 3, result: true, message: 'success' }]);
    expect(linkFrames(h).map((f) => f.type)).toEqual(['leave', 'join']);
  });

  it('frames sent while the cookie verifies wait and follow the join, mapped', async () => {
    const h = sessionsHarness();
    const o = h.openArchitus('203.0.113.1', 'held-alice');
    h.send(o.socket, { _event: 'pool_all_request', type: 'partial_guild', _seq: 3 });
    expect(h.toLink).toEqual([]);
    await h.held[0]!.accept();
    expect(linkFrames(h).map((f) => f.type)).toEqual(['join', 'message']);
    expect(linkFrames(h)[1]!.message).toEqual({ event: 'pool_all_request', _id: 's3', data: { type: 'guild' } });
  });

  it('frames sent while a cookie verifies that is then refused follow the guest join, mapped', async () => {
    const h = sessionsHarness();
    const o = h.openArchitus('203.0.113.1', 'held-stale');
    h.send(o.socket, { _event: 'pool_request', type: 'member', guild_id: '1234567890', _seq: 5, ids: ['1000001'] });
    h.send(o.socket, { _event: 'ping', action: 3001, guildId: 4242424, messageId: 0, content: 'hi', allowedCommands: [] });
    await h.held[0]!.refuse('expired');
    expect(o.s.anonymous).toBe(true);
    expect(o.s.queue).toBeUndefined();
    expect(linkFrames(h).map((f) => f.type)).toEqual(['join', 'message', 'message']);
    expect(linkFrames(h).slice(1).map((f) => (f.message as { event: string }).event)).toEqual(['pool_request', 'mock_user_event']);
  });
});
