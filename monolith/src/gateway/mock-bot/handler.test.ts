import { describe, expect, it } from 'vitest';
import type { TokenClaims } from '@gateway/protocol';
import type { Log } from '@gateway/server-kit';
import type { Conn, Rooms } from '../../rooms/rooms.js';
import { ConnectionRateLimit } from '../connection-rate.js';
import { Gateway } from '../gateway.js';
import { registerInterpret } from '../interpret.js';
import { MockBot } from './bot.js';
import { registerMockBot } from './handler.js';

const quiet: Log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** A real Gateway with the mock bot (and interpret, sharing its rate limit) on a settable clock. */
function setup(opts: { rate?: number; burst?: number } = {}) {
  const sent: Array<{ conn: string; frame: Record<string, unknown> }> = [];
  const rooms = { unicast: (conn: Conn, text: string) => sent.push({ conn: conn.id, frame: JSON.parse(text) as Record<string, unknown> }), onLeave: () => undefined } as unknown as Rooms;
  const gateway = new Gateway(rooms, quiet, { maxDepth: 32 });
  const clock = { now: 0 };
  const bot = new MockBot({ now: () => clock.now, random: () => 0 });
  const limit = new ConnectionRateLimit(rooms, opts.rate ?? 100, opts.burst ?? 100, () => clock.now);
  registerMockBot(gateway, bot, limit);
  registerInterpret(gateway, rooms, { bot, limit, autoResponses: async () => [] });
  let n = 0;
  const conn = (subject: string, claims: TokenClaims = { guest: true, jti: subject }) => ({ id: `c${++n}`, subject, claims, guest: claims.guest === true }) as Conn;
  /** Sends a `mock_user_event` and returns the frame answered to it. */
  const send = (c: Conn, data: unknown) => {
    const _id = ++n;
    gateway.handle(c, { event: 'mock_user_event', _id, data });
    return sent.find((s) => s.conn === c.id && s.frame._id === _id)?.frame;
  };
  return { gateway, clock, conn, send };
}
const say = (content: string, extra: Record<string, unknown> = {}) => ({ action: 3001, guild_id: '4821337', message_id: '0', content, allowed_commands: ['set', 'remove'], ...extra });

describe('mock_user_event handler', () => {
  it('answers mock_bot_event {guild_id, actions} with the request id, to guests too; no reply is actions: []', () => {
    const { conn, send } = setup();
    const guest = conn('g1');
    expect(send(guest, say('!set hi::hey'))).toMatchObject({ event: 'mock_bot_event', data: { guild_id: '4821337', actions: [{ action: 3001, message_id: '1', content: '✅ `hi::hey` _successfully set_' }] } });
    expect(send(guest, say('hi'))).toMatchObject({ data: { actions: [{ content: 'hey' }] } });
    expect(send(guest, say('hello'))).toEqual({ event: 'mock_bot_event', _id: expect.any(Number), data: { guild_id: '4821337', actions: [] } });
    expect(send(guest, { action: 3100, guild_id: '4821337', message_id: '999', emoji: '✅' })).toMatchObject({ data: { actions: [] } });
  });

  it('keeps each subject its own guild: the same random id never mixes two visitors', () => {
    const { conn, send } = setup();
    const [alice, bob, aliceAgain] = [conn('alice'), conn('bob'), conn('alice')];
    send(alice, say('!set hi::hey'));
    expect(send(bob, say('hi'))).toMatchObject({ data: { actions: [] } });
    // A second connection of the same subject (another tab, a reconnect) is the same visitor.
    expect(send(aliceAgain, say('hi'))).toMatchObject({ data: { actions: [{ content: 'hey' }] } });
  });

  it('keeps a signed-in user whose sub is anon.x apart from the tokenless guest anon.x', () => {
    const { conn, send } = setup();
    const [guest, user] = [conn('anon.x'), conn('anon.x', { sub: 'anon.x' })];
    send(guest, say('!set hi::hey'));
    expect(send(user, say('hi'))).toMatchObject({ data: { actions: [] } });
    expect(send(conn('anon.x'), say('hi'))).toMatchObject({ data: { actions: [{ content: 'hey' }] } });
  });

  it('refuses a guild id of 10^7 or more with forbidden, whatever the token', () => {
    const { conn, send } = setup();
    const admin = conn('ops', { sub: 'ops', admin: true });
    const member = conn('u', { sub: 'u', guilds: { '2345678901': 0 } });
    expect(send(admin, say('hi', { guild_id: '10000000' }))).toMatchObject({ event: 'error', code: 'forbidden' });
    expect(send(member, say('hi', { guild_id: '2345678901' }))).toMatchObject({ event: 'error', code: 'forbidden' });
    expect(send(admin, say('hi', { guild_id: '9999999' }))).toMatchObject({ event: 'mock_bot_event' });
  });

  it.each([
    ['no content', { action: 3001, guild_id: '1', message_id: '0' }],
    ['a number id', { action: 3001, guild_id: 1, message_id: '0', content: 'x' }],
    ['delete (72) from a user', { action: 72, guild_id: '1', message_id: '0' }],
    ['an empty emoji', { action: 3100, guild_id: '1', message_id: '1', emoji: '' }],
    ['no data', undefined],
  ])('answers bad_request for %s', (_what, data) => {
    const { conn, send } = setup();
    expect(send(conn('g'), data)).toMatchObject({ event: 'error', code: 'bad_request' });
  });

  it('rate-limits per connection, on one budget with interpret, refilled by the clock', () => {
    const { gateway, clock, conn, send } = setup({ rate: 1, burst: 2 });
    const [flooder, other] = [conn('f'), conn('o')];
    gateway.handle(flooder, { event: 'interpret', _id: 'i', data: { guild_id: '4821337', message_id: '0', content: 'x' } });
    expect(send(flooder, say('a'))).toMatchObject({ event: 'mock_bot_event' });
    expect(send(flooder, say('b'))).toMatchObject({ event: 'error', code: 'rate_limited' });
    expect(send(other, say('c'))).toMatchObject({ event: 'mock_bot_event' });
    clock.now += 1000;
    expect(send(flooder, say('d'))).toMatchObject({ event: 'mock_bot_event' });
  });
});
