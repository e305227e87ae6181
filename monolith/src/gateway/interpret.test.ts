import { describe, expect, it } from 'vitest';
import type { TokenClaims } from '@gateway/protocol';
import type { Rooms } from '../rooms/rooms.js';
import type { Context, Gateway, Handler } from './gateway.js';
import { ConnectionRateLimit } from './connection-rate.js';
import { interpret, registerInterpret, type AutoResponse } from './interpret.js';
import { MockBot } from './mock-bot/bot.js';
import { newGuildState } from './mock-bot/state.js';

const responses: AutoResponse[] = [
  { trigger: 'hello', response: 'Hello there!', reaction: '👋' },
  { trigger: 'good bot', response: 'Thanks!' },
];
const base = { guild_id: '1', message_id: '100', content: '' };

describe('interpret (mock bot)', () => {
  it('answers an auto response on a whole-word, case-insensitive trigger with an odd bot id', () => {
    expect(interpret({ ...base, content: 'Well HELLO, friend' }, responses, false)).toEqual({
      guild_id: '1',
      message_id: '201',
      content: 'Hello there!',
      added_reactions: ['👋'],
      edit: false,
    });
    expect(interpret({ ...base, content: 'othello' }, responses, false)).toBeUndefined();
  });

  it('runs built-in commands only when allowed', () => {
    expect(interpret({ ...base, content: '!echo hi' }, responses, false)?.content).toBe('hi');
    expect(interpret({ ...base, content: '!echo hi', allowed_commands: ['roll'] }, responses, false)).toBeUndefined();
    expect(interpret({ ...base, content: '!help', allowed_commands: ['help', 'roll'] }, responses, false)?.content).toBe(
      '```roll: roll NdM\nRolls N dice with M sides (1d6 if not said).```\n',
    );
  });

  it('rolls deterministically from the message id', () => {
    const a = interpret({ ...base, content: '!roll 3d6' }, [], false)!.content;
    expect(a).toBe(interpret({ ...base, content: '!roll 3d6' }, [], false)!.content);
    expect(a).toMatch(/^🎲 [1-6] \+ [1-6] \+ [1-6] = \d+$/);
  });

  it('keeps snowflakes exact beyond 2^53 and marks edits', () => {
    const reply = interpret({ ...base, message_id: '1234567890123456789', content: 'good bot' }, responses, true)!;
    expect(reply.message_id).toBe('2469135780246913579');
    expect(reply.edit).toBe(true);
  });
});

describe('interpret on the mock bot engine', () => {
  it('offers architus commands on a mock guild with state, mapping the reactions to added_reactions', () => {
    const guild = newGuildState(0);
    const set = { ...base, content: '!set yo::sup', allowed_commands: ['set'] };
    expect(interpret(set, [], false, guild)?.content).toBe('✅ `yo::sup` _successfully set_');
    expect(interpret({ ...base, message_id: '102', content: 'Yo!' }, responses, false, guild)).toMatchObject({ message_id: '205', content: 'sup' });
    // With a mock guild, responses given anyway are not shown.
    expect(interpret({ ...base, content: 'hello' }, responses, false, guild)).toBeUndefined();
    expect(interpret({ ...base, content: '!poll t a, b', allowed_commands: ['poll'] }, [], false, guild)).toMatchObject({ added_reactions: ['0⃣', '1⃣'] });
  });

  it('keeps nothing for a real guild: stateful commands are plain text there', () => {
    expect(interpret({ ...base, content: '!set yo::sup', allowed_commands: ['set'] }, responses, false)).toBeUndefined();
  });
});

describe('interpret handler: which guilds the mock bot may read', () => {
  /** The registered handler, with the guilds whose auto responses it read. */
  function setup() {
    let handler: Handler | undefined;
    const gateway = { on: (_event: string, h: Handler) => ((handler = h), gateway) } as unknown as Gateway;
    const rooms = { onLeave: () => undefined } as unknown as Rooms;
    const read: string[] = [];
    registerInterpret(gateway, rooms, {
      bot: new MockBot(),
      limit: new ConnectionRateLimit(rooms, 100, 100),
      autoResponses: async (guildId) => (read.push(guildId), responses),
    });
    const call = async (claims: TokenClaims, guildId: string) => {
      const out: Array<{ event: string; data?: unknown; code?: string }> = [];
      const ctx = {
        conn: { id: `c${Math.random()}`, claims, subject: claims.sub ?? claims.jti, guest: claims.guest === true },
        rooms,
        reply: (event: string, data?: unknown) => out.push({ event, data }),
        error: (code: string) => out.push({ event: 'error', code }),
      } as unknown as Context;
      await handler!(ctx, { guild_id: guildId, message_id: '100', content: 'hello' });
      return out[0];
    };
    return { call, read };
  }
  const guest: TokenClaims = { guest: true, jti: 'g1' };

  it('refuses a guest on a real guild with forbidden, without reading its auto responses', async () => {
    const { call, read } = setup();
    expect(await call(guest, '2345678901')).toEqual({ event: 'error', code: 'forbidden' });
    expect(await call({ sub: 'u', guilds: { '1234567890': 0 } }, '2345678901')).toEqual({ event: 'error', code: 'forbidden' });
    expect(read).toEqual([]);
  });

  it('answers anyone on a mock guild (id below 10^7) without the store, and members or admins on a real one from it', async () => {
    const { call, read } = setup();
    // `hello` is a stored trigger: never shown under a mock id, and the store is not asked.
    expect(await call(guest, '1000000')).toEqual({ event: 'interpret', data: null });
    expect(await call({ sub: 'ops', admin: true }, '1000000')).toEqual({ event: 'interpret', data: null });
    expect(await call({ sub: 'u', guilds: { '2345678901': 0 } }, '2345678901')).toMatchObject({ event: 'interpret', data: { content: 'Hello there!' } });
    expect(await call({ sub: 'ops', admin: true }, '2345678901')).toMatchObject({ event: 'interpret', data: { content: 'Hello there!' } });
    expect(read).toEqual(['2345678901', '2345678901']);
  });
});
