import { describe, expect, it } from 'vitest';
import { SNOWFLAKE_EPOCH_MS, normalizeLogEntry, snowflakeTime, validateLogEntry, validateLogEntryInput, validateUserGuildsBody } from './gateway-api.js';

// An architus shard's entry (log_cog.py), with its 64-bit ids as the monolith's body parser
// hands them over: beyond 2^53 as digit strings, smaller ones as numbers.
const architus = {
  id: '1749506853102735360',
  guild_id: 1234567890,
  discord_object: '800000000000000001',
  private: false,
  reversible: true,
  action_number: 3001,
  agent_id: '100000000000000001',
  subject_id: 300000000000000,
  data: { content: 'hi', created_at: '2024-01-01T00:00:00' },
};

describe('log entries', () => {
  it("derives a hoarfrost or snowflake id's time: (id >> 22) + 2015-01-01", () => {
    expect(snowflakeTime('0')).toBe(SNOWFLAKE_EPOCH_MS);
    expect(new Date(SNOWFLAKE_EPOCH_MS).toISOString()).toBe('2015-01-01T00:00:00.000Z');
    // Discord's documented example: 175928847299117063 was made at 2016-04-30T11:18:25.796Z.
    expect(new Date(snowflakeTime('175928847299117063')).toISOString()).toBe('2016-04-30T11:18:25.796Z');
    expect(snowflakeTime(String((1000n << 22n) | 0x3fffffn))).toBe(SNOWFLAKE_EPOCH_MS + 1000);
  });

  it('takes the architus entry and stores it with string ids, a derived timestamp and its extra keys', () => {
    expect(validateLogEntry.check(architus)).toBe(false);
    expect(validateLogEntryInput.check(architus)).toBe(true);
    const entry = normalizeLogEntry(architus);
    expect(entry).toEqual({
      ...architus,
      guild_id: '1234567890',
      subject_id: '300000000000000',
      timestamp: snowflakeTime('1749506853102735360'),
    });
    expect(validateLogEntry.check(entry)).toBe(true);
    expect(normalizeLogEntry({ ...architus, discord_object: null, agent_id: null }).discord_object).toBeNull();
    expect('discord_object' in normalizeLogEntry({ ...architus, discord_object: undefined })).toBe(false);
  });

  it('keeps a given timestamp and takes action_number -1; refuses what it cannot store exactly', () => {
    expect(normalizeLogEntry({ ...architus, timestamp: 5 }).timestamp).toBe(5);
    expect(validateLogEntryInput.check({ ...architus, action_number: -1 })).toBe(true);
    for (const bad of [
      { action_number: -2 },
      { id: 1.5 },
      { id: 2 ** 53 }, // beyond 2^53 a number is already rounded: the parser sends digits instead
      { id: -1 },
      { guild_id: 'abc' },
      { agent_id: '1e5' },
      { private: 'no' },
      { id: undefined },
    ]) {
      expect(validateLogEntryInput.check({ ...architus, ...bad }), JSON.stringify(bad)).toBe(false);
    }
  });
});

describe('user guild lists', () => {
  it("takes Discord's partial guilds, permissions as a number or digits", () => {
    const guild = { id: '1234567890', name: 'G', icon: null, owner: false, permissions: '2147483647', features: ['COMMUNITY'] };
    expect(validateUserGuildsBody.check([guild, { id: '2345678901', name: 'H', owner: true, permissions: 8 }])).toBe(true);
    for (const bad of [{ id: 5 }, { permissions: '0x20' }, { permissions: -1 }, { owner: undefined }, { features: [1] }]) {
      expect(validateUserGuildsBody.check([{ ...guild, ...bad }]), JSON.stringify(bad)).toBe(false);
    }
    expect(validateUserGuildsBody.check({ guilds: [guild] })).toBe(false);
    expect(validateUserGuildsBody.check(Array.from({ length: 501 }, () => guild))).toBe(false);
  });
});
