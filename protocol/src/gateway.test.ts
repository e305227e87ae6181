import { describe, expect, it } from 'vitest';
import { isMockGuild, mayInterpret } from './gateway.js';

describe('mock guilds and the mock bot', () => {
  it('treats ids below 10^7 as mock guilds and real snowflakes as real', () => {
    expect(isMockGuild('1000000')).toBe(true);
    expect(isMockGuild('9999999')).toBe(true);
    expect(isMockGuild('10000000')).toBe(false);
    expect(isMockGuild('2345678901')).toBe(false);
    expect(isMockGuild('')).toBe(false);
    expect(isMockGuild('12a')).toBe(false);
  });

  it('lets anyone interpret on a mock guild, and only the guild’s members (or admin) on a real one', () => {
    expect(mayInterpret({ guest: true, jti: 'g' }, '1000000')).toBe(true);
    expect(mayInterpret({ guest: true, jti: 'g' }, '2345678901')).toBe(false);
    expect(mayInterpret({ sub: 'u', guilds: { '1234567890': 0 } }, '2345678901')).toBe(false);
    expect(mayInterpret({ sub: 'u', guilds: { '2345678901': 0 } }, '2345678901')).toBe(true);
    expect(mayInterpret({ sub: 'u', admin: true }, '2345678901')).toBe(true);
  });
});
