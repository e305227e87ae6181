import { describe, expect, it } from 'vitest';
import { errorFrame, ErrorCode, ErrorHuman } from '@gateway/protocol';
import { ARCHITUS_ERROR_CODE, architusTopic, decodeArchitus, encodeArchitus } from './architus.js';

/** Frames the architus frontend sends (written from reading its source), and their native meaning. */
const IN: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
  [
    'pool_request, current frontend (_seq, guild_id, develop pool name)',
    { _event: 'pool_request', type: 'member', guild_id: '1234567890', _seq: 7, ids: ['100000000000000001', '100000000000000004'] },
    { event: 'pool_request', _id: 's7', data: { type: 'member', guild_id: '1234567890', ids: ['100000000000000001', '100000000000000004'] } },
  ],
  [
    'pool_request of a global pool renamed by the frontend',
    { _event: 'pool_request', type: 'partial_user', _seq: 9, ids: ['100000000000000003'] },
    { event: 'pool_request', _id: 's9', data: { type: 'user', ids: ['100000000000000003'] } },
  ],
  [
    'pool_request, socket.io-era frontend (_id, guildId, numeric ids)',
    { _event: 'pool_request', type: 'autoResponse', guildId: 1234567890, _id: 5, ids: [1234567] },
    { event: 'pool_request', _id: 5, data: { type: 'autoResponse', guild_id: '1234567890', ids: ['1234567'] } },
  ],
  [
    'pool_all_request of partial_guild',
    { _event: 'pool_all_request', type: 'partial_guild', _seq: 3 },
    { event: 'pool_all_request', _id: 's3', data: { type: 'guild' } },
  ],
  [
    'pool_all_request of auto_response in a guild',
    { _event: 'pool_all_request', type: 'auto_response', guild_id: '1234567890', _seq: 5 },
    { event: 'pool_all_request', _id: 's5', data: { type: 'autoResponse', guild_id: '1234567890' } },
  ],
  [
    'the mock user frame as the current frontend sends it (ping with an action)',
    { _event: 'ping', action: 3001, guildId: 4821337, messageId: 6, content: '!help', allowedCommands: ['set', 'remove'], silent: false },
    { event: 'mock_user_event', data: { action: 3001, guild_id: '4821337', message_id: '6', content: '!help', allowed_commands: ['set', 'remove'], silent: false } },
  ],
  [
    'a reaction as mock_user_event (socket.io-era name)',
    { _event: 'mock_user_event', action: 3100, guildId: 4821337, messageId: 9731553, emoji: '✅' },
    { event: 'mock_user_event', data: { action: 3100, guild_id: '4821337', message_id: '9731553', emoji: '✅' } },
  ],
  ['a plain ping', { _event: 'ping' }, { event: 'ping', data: {} }],
  [
    'spectate with the bare guild id (a number)',
    { _event: 'spectate', guildId: 1234567890 },
    { event: 'spectate', data: { guild_id: '1234567890', include_logs: true } },
  ],
  [
    'request_elevation with a token',
    { _event: 'request_elevation', token: 'a.b.c', _seq: 11 },
    { event: 'request_elevation', _id: 's11', data: { token: 'a.b.c' } },
  ],
  ['an unknown event passes through for the monolith to answer', { _event: 'nope', x: 1 }, { event: 'nope', data: { x: 1 } }],
  ['a frame without _event', { type: 'member' }, { event: '', data: { type: 'member' } }],
];

/** Native frames the gateway sends, and what the architus frontend must receive. */
const OUT: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
  [
    'pool_response to a _seq request (current frontend spelling)',
    { event: 'pool_response', _id: 's7', data: { type: 'member', guild_id: '1234567890', data: [{ id: '100000000000000001' }], nonexistent: ['100000000000000004'], finished: true } },
    { _event: 'pool_response', seq: 7, type: 'member', guild_id: '1234567890', data: [{ id: '100000000000000001' }], nonexistent: ['100000000000000004'], finished: true },
  ],
  [
    'pool_response to an _id request (socket.io-era spelling)',
    { event: 'pool_response', _id: 5, data: { type: 'user', guild_id: null, data: [], nonexistent: ['1000000'], finished: true } },
    { _event: 'pool_response', _id: 5, type: 'user', guild_id: null, data: [], nonexistant: ['1000000'], finished: true },
  ],
  [
    'missing ids the frontend cannot decode are left out (it would drop the whole frame)',
    { event: 'pool_response', _id: 's9', data: { type: 'member', data: [], nonexistent: ['abc', '42', '12345678'], finished: false, cursor: 'x' } },
    { _event: 'pool_response', seq: 9, type: 'member', data: [], nonexistent: ['12345678'], finished: false, cursor: 'x' },
  ],
  [
    'mock_bot_event with numeric ids and camelCase keys',
    {
      event: 'mock_bot_event',
      data: {
        guild_id: '4821337',
        actions: [
          { action: 3001, message_id: '7', content: 'hi' },
          { action: 3100, message_id: '7', emoji: '✅' },
          { action: 3101, message_id: '7', emoji: '❌', targets_user: true },
        ],
      },
    },
    {
      _event: 'mock_bot_event',
      guildId: 4821337,
      actions: [
        { action: 3001, messageId: 7, content: 'hi' },
        { action: 3100, messageId: 7, emoji: '✅' },
        { action: 3101, messageId: 7, emoji: '❌', targetsUser: true },
      ],
    },
  ],
  [
    'an elevation result',
    { event: 'request_elevation', _id: 's11', data: { result: true } },
    { _event: 'elevation_return', seq: 11, result: true, message: 'success' },
  ],
  [
    'a refused elevation',
    { event: 'request_elevation', data: { result: false } },
    { _event: 'elevation_return', result: false, message: 'Missing or invalid jwt' },
  ],
  [
    'a push (log_other) flattened',
    { event: 'log_other', data: { id: '1749506853102735360', guild_id: '1234567890', action_number: 3001 } },
    { _event: 'log_other', id: '1749506853102735360', guild_id: '1234567890', action_number: 3001 },
  ],
  ['a non-object payload', { event: 'interpret', _id: 's2', data: null }, { _event: 'interpret', seq: 2, data: null }],
  [
    'payload keys named like the envelope cannot hide it',
    { event: 'welcome', _id: 's1', data: { _event: 'x', seq: 99, id: 'c1' } },
    { _event: 'welcome', seq: 1, id: 'c1' },
  ],
];

describe('architus dialect codec', () => {
  it.each(IN)('in: %s', (_name, architus, native) => {
    expect(decodeArchitus(architus)).toEqual(native);
  });

  it.each(OUT)('out: %s', (_name, native, architus) => {
    expect(JSON.parse(encodeArchitus(JSON.stringify(native))!)).toEqual(architus);
  });

  it('maps every error code to a number, keeping the code name in details', () => {
    for (const code of Object.values(ErrorCode)) {
      const out = JSON.parse(encodeArchitus(errorFrame(code, 'why', 's4'))!);
      expect(out).toEqual({ _event: 'error', code: ARCHITUS_ERROR_CODE[code], message: 'why', human: ErrorHuman[code], details: code, seq: 4 });
      expect(typeof out.code).toBe('number');
    }
    expect(new Set(Object.values(ARCHITUS_ERROR_CODE)).size).toBe(Object.keys(ErrorCode).length);
  });

  it('round-trips correlation: what a request carried, its answer carries under the frontend\'s name', () => {
    for (const [request, key] of [[{ _seq: 41 }, 'seq'], [{ _id: 41 }, '_id']] as const) {
      const native = decodeArchitus({ _event: 'pool_request', type: 'member', guild_id: '1234567890', ids: [], ...request });
      const reply = JSON.parse(encodeArchitus(JSON.stringify({ event: 'pool_response', _id: native._id, data: { data: [], nonexistent: [], finished: true } }))!);
      expect(reply[key]).toBe(41);
    }
  });

  it('answers a string _id as that string, even one shaped like a seq, and a 16-digit seq exactly', () => {
    const echo = (request: Record<string, unknown>) => {
      const native = decodeArchitus({ _event: 'x', ...request });
      return JSON.parse(encodeArchitus(JSON.stringify({ event: 'x', _id: native._id, data: {} }))!);
    };
    expect(echo({ _id: 's5' })).toEqual({ _event: 'x', _id: 's5' });
    expect(echo({ _id: 'abc' })).toEqual({ _event: 'x', _id: 'abc' });
    expect(echo({ _seq: 9007199254740991 })).toEqual({ _event: 'x', seq: 9007199254740991 });
  });

  it('maps an error code it does not know (or an inherited name) to 500', () => {
    for (const code of ['nope', 'toString', '__proto__']) {
      expect(JSON.parse(encodeArchitus(JSON.stringify({ event: 'error', code, message: 'm' }))!)).toMatchObject({ code: 500, details: code });
    }
  });

  it('drops what is not a native frame instead of sending garbage', () => {
    expect(encodeArchitus('not json')).toBeUndefined();
    expect(encodeArchitus('[1,2]')).toBeUndefined();
    expect(encodeArchitus('{"data":1}')).toBeUndefined();
  });

  it('gives dialect subscribers their own topic', () => {
    expect(architusTopic('m1/guild:1')).not.toBe('m1/guild:1');
    expect(architusTopic('m1/guild:1')).toContain('m1/guild:1');
  });
});
