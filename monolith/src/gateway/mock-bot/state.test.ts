import { describe, expect, it } from 'vitest';
import { removeResponse, setResponse } from './auto-responses.js';
import { onMessage, onReaction } from './engine.js';
import { MockLimits } from './limits.js';
import { PollTracker } from './polls.js';
import { allocateId, MockGuilds, newGuildState, rememberMessage } from './state.js';

const HOUR = 3_600_000;

describe('MockGuilds: which guild states are kept', () => {
  it('keeps one state per (family, subject, guild id)', () => {
    const guilds = new MockGuilds();
    const a = guilds.get('mock', 'alice', '42', 0);
    expect(guilds.get('mock', 'alice', '42', 1)).toBe(a);
    expect(guilds.get('mock', 'bob', '42', 1)).not.toBe(a);
    expect(guilds.get('interpret', 'alice', '42', 1)).not.toBe(a);
    expect(guilds.get('mock', 'alice', '43', 1)).not.toBe(a);
    expect(guilds.size).toBe(4);
  });

  it('drops the least recently used state beyond maxGuilds', () => {
    const guilds = new MockGuilds({ maxGuilds: 3, idleTtlMs: HOUR });
    const [a, b] = [guilds.get('mock', 's', '1', 0), guilds.get('mock', 's', '2', 1)];
    guilds.get('mock', 's', '3', 2);
    guilds.get('mock', 's', '1', 3); // 1 used again: 2 is now the least recent
    guilds.get('mock', 's', '4', 4);
    expect(guilds.size).toBe(3);
    expect(guilds.get('mock', 's', '1', 5)).toBe(a);
    expect(guilds.get('mock', 's', '2', 6)).not.toBe(b);
  });

  it('forgets a state idle for idleTtlMs, and sweeps every expired one on the next use', () => {
    const guilds = new MockGuilds({ maxGuilds: 100, idleTtlMs: HOUR });
    const a = guilds.get('mock', 's', '1', 0);
    for (let g = 2; g <= 10; g++) guilds.get('mock', 's', String(g), 10);
    expect(guilds.get('mock', 's', '1', HOUR - 1)).toBe(a);
    expect(guilds.get('mock', 's', '99', HOUR + 10)).toBeDefined();
    expect(guilds.size).toBe(2); // 2..10 expired; 1 was used at HOUR - 1
    expect(guilds.get('mock', 's', '1', 3 * HOUR)).not.toBe(a);
  });

  it('has the documented defaults', () => {
    expect(MockLimits).toMatchObject({ MAX_GUILDS: 10_000, IDLE_TTL_MS: 30 * 60_000, MAX_RESPONSES: 50, MAX_MESSAGES: 200 });
  });
});

describe('one guild state: bounded', () => {
  it('remembers at most MAX_MESSAGES bot messages, dropping the oldest (a dropped poll stops answering)', () => {
    const guild = newGuildState(0);
    const first = onMessage(guild, { messageId: '0', content: '!poll t a, b', allowed: ['poll'], available: ['poll'] }, { random: () => 0, now: 0 })[0]!.message_id;
    for (let i = 0; i < MockLimits.MAX_MESSAGES - 1; i++) rememberMessage(guild, allocateId(guild), undefined);
    expect(onReaction(guild, first, '0⃣', true)).toHaveLength(1);
    rememberMessage(guild, allocateId(guild), undefined);
    expect(guild.messages.size).toBe(MockLimits.MAX_MESSAGES);
    expect(guild.messages.has(first)).toBe(false);
    expect(onReaction(guild, first, '1⃣', true)).toEqual([]);
  });

  it('drops the oldest polls while over the text budget, keeps the new one and plain messages', () => {
    const guild = newGuildState(0);
    // Three such polls fit the budget, four do not.
    const option = 'o'.repeat(Math.floor(MockLimits.GUILD_TEXT_BUDGET / 16));
    const poll = () => new PollTracker('t', Array.from({ length: 5 }, () => option), false);
    const plain = allocateId(guild);
    rememberMessage(guild, plain, undefined);
    const ids = Array.from({ length: 4 }, () => {
      const id = allocateId(guild);
      rememberMessage(guild, id, poll());
      return id;
    });
    expect(guild.chars).toBeLessThanOrEqual(MockLimits.GUILD_TEXT_BUDGET);
    expect([...guild.messages.keys()]).toEqual([plain, ...ids.slice(1)]);
  });

  it('refuses !set beyond MAX_RESPONSES, or beyond the text budget, with architus limit text; !remove frees room', () => {
    const guild = newGuildState(0);
    for (let i = 0; i < MockLimits.MAX_RESPONSES; i++) expect(setResponse(guild, `!set t${i}::r`)).toMatch(/^✅/);
    expect(setResponse(guild, '!set more::r')).toBe("❌ looks like you've already used all your auto responses in this server (50), try deleting some");
    expect(removeResponse(guild, '!remove t0')).toMatch(/^✅/);
    expect(setResponse(guild, '!set more::r')).toMatch(/^✅/);

    const big = newGuildState(0);
    const response = 'r'.repeat(MockLimits.MAX_RESPONSE_LENGTH);
    let n = 0;
    while (setResponse(big, `!set t${n}::${response}`).startsWith('✅')) n++;
    expect(n).toBe(Math.floor(MockLimits.GUILD_TEXT_BUDGET / (response.length + 3)));
    expect(big.chars).toBeLessThanOrEqual(MockLimits.GUILD_TEXT_BUDGET);
  });

  it('counts a message remembered again under its id once', () => {
    const guild = newGuildState(0);
    rememberMessage(guild, '201', new PollTracker('t', ['a', 'b'], false));
    rememberMessage(guild, '201', new PollTracker('t', ['a', 'b'], false));
    expect(guild.chars).toBe(3);
  });

  it('allocates odd ids 1, 3, 5, … skipping known ones', () => {
    const guild = newGuildState(0);
    rememberMessage(guild, '3', undefined);
    expect([allocateId(guild), allocateId(guild), allocateId(guild)]).toEqual(['1', '5', '7']);
  });
});
