import { describe, expect, it } from 'vitest';
import { removeResponse, setResponse } from './auto-responses.js';
import { onMessage, onReaction } from './engine.js';
import { MockLimits } from './limits.js';
import { PollTracker } from './polls.js';
import { allocateId, MockGuilds, newGuildState, rememberMessage, type GuildState, type Visitor } from './state.js';

const HOUR = 3_600_000;
const alice: Visitor = { guest: false, subject: 'alice' };
const ALL = ['set', 'remove', 'poll', 'xpoll', 'schedule'];

/** Runs `content` in `guild` with every command allowed; the reply's text ('' for none). */
const say = (guild: GuildState, content: string) =>
  onMessage(guild, { messageId: '0', content, allowed: ALL, available: ['set', 'remove', 'poll', 'xpoll', 'schedule'] }, { random: () => 0, now: 0 })[0]?.content ?? '';

/** Uses (creating if need be) `guildId` for `visitor`, leaving an id used so the state is kept. */
const keep = (guilds: MockGuilds, visitor: Visitor, guildId: string, now: number) =>
  guilds.use('mock', visitor, guildId, now, (g) => (allocateId(g), g));

describe('MockGuilds: which guild states are kept', () => {
  it('keeps one state per (family, visitor, guild id); a guest and a user of the same subject are two', () => {
    const guilds = new MockGuilds();
    const a = keep(guilds, alice, '42', 0);
    expect(keep(guilds, alice, '42', 1)).toBe(a);
    expect(keep(guilds, { guest: false, subject: 'bob' }, '42', 1)).not.toBe(a);
    expect(guilds.use('interpret', alice, '42', 1, (g) => (allocateId(g), g))).not.toBe(a);
    expect(keep(guilds, alice, '43', 1)).not.toBe(a);
    // A token whose `sub` is `anon.x` is not the tokenless guest `anon.x`.
    const user = keep(guilds, { guest: false, subject: 'anon.x' }, '42', 1);
    expect(keep(guilds, { guest: true, subject: 'anon.x' }, '42', 1)).not.toBe(user);
    expect(guilds.size).toBe(6);
  });

  it('keeps a fresh state only when something is left in it', () => {
    const guilds = new MockGuilds();
    guilds.use('mock', alice, '1', 0, (g) => onReaction(g, '999', '✅', true));
    guilds.use('mock', alice, '1', 0, (g) => say(g, 'hello'));
    guilds.use('mock', alice, '1', 0, (g) => say(g, '!remove nothing') && g.nextId--); // a reply, its id given back
    expect(guilds.size).toBe(0);
    guilds.use('mock', alice, '1', 0, (g) => say(g, '!set hi::hey'));
    expect(guilds.size).toBe(1);
  });

  it('drops the least recently used state beyond maxGuilds', () => {
    const guilds = new MockGuilds({ maxGuilds: 3, maxPerVisitor: 8, idleTtlMs: HOUR });
    const [a, b] = [keep(guilds, alice, '1', 0), keep(guilds, alice, '2', 1)];
    keep(guilds, alice, '3', 2);
    keep(guilds, alice, '1', 3); // 1 used again: 2 is now the least recent
    keep(guilds, alice, '4', 4);
    expect(guilds.size).toBe(3);
    expect(keep(guilds, alice, '1', 5)).toBe(a);
    expect(keep(guilds, alice, '2', 6)).not.toBe(b);
  });

  it('keeps at most maxPerVisitor states per visitor: one visitor cycling guild ids evicts only its own', () => {
    const guilds = new MockGuilds({ maxGuilds: 20, maxPerVisitor: 8, idleTtlMs: HOUR });
    const bob = Array.from({ length: 3 }, (_, i) => keep(guilds, { guest: true, subject: 'bob' }, String(i), 0));
    const mine = keep(guilds, alice, '0', 1);
    for (let g = 1; g <= 1000; g++) keep(guilds, alice, String(g), 2 + g);
    expect(guilds.size).toBe(3 + 8);
    bob.forEach((state, i) => expect(keep(guilds, { guest: true, subject: 'bob' }, String(i), 2000)).toBe(state));
    expect(keep(guilds, alice, '0', 2001)).not.toBe(mine);
    expect(keep(guilds, alice, '1000', 2002).nextId).toBe(2); // among the last 8: kept
  });

  it('forgets a state idle for idleTtlMs, and sweeps every expired one on the next use', () => {
    const guilds = new MockGuilds({ maxGuilds: 100, maxPerVisitor: 100, idleTtlMs: HOUR });
    const a = keep(guilds, alice, '1', 0);
    for (let g = 2; g <= 10; g++) keep(guilds, alice, String(g), 10);
    expect(keep(guilds, alice, '1', HOUR - 1)).toBe(a);
    expect(keep(guilds, alice, '99', HOUR + 10)).toBeDefined();
    expect(guilds.size).toBe(2); // 2..10 expired; 1 was used at HOUR - 1
    expect(keep(guilds, alice, '1', 3 * HOUR)).not.toBe(a);
  });

  it('has the documented defaults', () => {
    expect(MockLimits).toMatchObject({ MAX_GUILDS: 10_000, MAX_GUILDS_PER_VISITOR: 8, IDLE_TTL_MS: 30 * 60_000, MAX_RESPONSES: 50, GUILD_BUDGET: 4096 });
  });
});

/**
 * What a value keeps, roughly in the budget's units: a string its length, any object, array, Map
 * or Set 16 plus 8 per field or entry. Rough, so the tests allow half the budget more: what they
 * check is that a guild keeps in proportion to its budget, not a node per character.
 */
function held(value: unknown, seen = new Set<unknown>()): number {
  if (typeof value === 'string') return value.length;
  if (typeof value !== 'object' || value === null || seen.has(value)) return 0;
  seen.add(value);
  const parts: unknown[] = value instanceof Map ? [...value].flat() : value instanceof Set ? [...value] : Object.values(value);
  return parts.reduce<number>((n, part) => n + 8 + held(part, seen), 16);
}

describe('one guild state: bounded', () => {
  const fill = (messages: string[]) => {
    const guild = newGuildState(0);
    for (const m of messages) say(guild, m);
    return guild;
  };
  const twice = (s: string) => `${s}${s}`;
  it.each([
    ['responses of 480 commas (parsed: hundreds of arrays)', Array.from({ length: 60 }, (_, i) => `!set t${i}::[${','.repeat(480)}]`)],
    ['responses nested 245 deep', Array.from({ length: 60 }, (_, i) => `!set t${i}::${'['.repeat(245)}${']'.repeat(245)}`)],
    ['many small responses', Array.from({ length: 60 }, (_, i) => `!set ${i}::b`)],
    ['triggers with every punctuation character', Array.from({ length: 60 }, (_, i) => `!set ${twice('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~')}${i}::r`)],
    ['polls of 10 empty options', Array.from({ length: 400 }, () => '!poll t ,,,,,,,,,')],
    ['one-letter schedules', Array.from({ length: 400 }, () => '!schedule x 5pm')],
    ['plain replies', Array.from({ length: 400 }, () => '!schedule x')],
  ])('%s: what it keeps stays within its budget', (_what, messages) => {
    const guild = fill(messages);
    expect(held(guild)).toBeLessThanOrEqual(1.5 * MockLimits.GUILD_BUDGET);
  });

  it('keeps a poll and a schedule only until the budget is needed, the newest kept', () => {
    const guild = newGuildState(0);
    const first = onMessage(guild, { messageId: '0', content: '!poll t a, b', allowed: ['poll'], available: ['poll'] }, { random: () => 0, now: 0 })[0]!.message_id;
    expect(onReaction(guild, first, '0⃣', true)).toHaveLength(1);
    for (let i = 0; i < 100; i++) say(guild, '!schedule x 5pm');
    expect(guild.trackers.has(first)).toBe(false);
    expect(onReaction(guild, first, '1⃣', true)).toEqual([]);
    expect(guild.used).toBeLessThanOrEqual(MockLimits.GUILD_BUDGET);
  });

  it('drops the oldest polls while over the budget, keeps the new one; plain messages keep nothing', () => {
    const guild = newGuildState(0);
    // Three such polls fit the budget, four do not.
    const option = 'o'.repeat(Math.floor((MockLimits.GUILD_BUDGET / 3 - MockLimits.MESSAGE_COST - 1) / 5) - MockLimits.OPTION_COST);
    const poll = () => new PollTracker('t', Array.from({ length: 5 }, () => option), false);
    rememberMessage(guild, allocateId(guild), undefined);
    const ids = Array.from({ length: 4 }, () => {
      const id = allocateId(guild);
      rememberMessage(guild, id, poll());
      return id;
    });
    expect(guild.used).toBeLessThanOrEqual(MockLimits.GUILD_BUDGET);
    expect([...guild.trackers.keys()]).toEqual(ids.slice(1));
  });

  it('refuses !set beyond MAX_RESPONSES with architus limit text; !remove frees room', () => {
    const guild = newGuildState(0);
    for (let i = 0; i < MockLimits.MAX_RESPONSES; i++) expect(setResponse(guild, `!set t${i}::r`)).toMatch(/^✅/);
    expect(setResponse(guild, '!set more::r')).toBe("❌ looks like you've already used all your auto responses in this server (50), try deleting some");
    expect(removeResponse(guild, '!remove t0')).toMatch(/^✅/);
    expect(setResponse(guild, '!set more::r')).toMatch(/^✅/);
  });

  it('forgets the oldest polls to make room for a !set, and refuses one only when responses fill the budget', () => {
    const guild = newGuildState(0);
    for (let i = 0; i < 40; i++) say(guild, `!poll t${i} ${'o'.repeat(100)}`);
    const polls = guild.trackers.size;
    expect(guild.used).toBeGreaterThan(MockLimits.GUILD_BUDGET - 300);
    expect(setResponse(guild, `!set a::${'r'.repeat(400)}`)).toMatch(/^✅/);
    expect(guild.trackers.size).toBeLessThan(polls);
    expect(guild.used).toBeLessThanOrEqual(MockLimits.GUILD_BUDGET);

    let n = 1;
    while (setResponse(guild, `!set t${n}::${'r'.repeat(400)}`).startsWith('✅')) n++;
    say(guild, '!poll t a, b');
    const left = [...guild.trackers.keys()];
    expect(left.length).toBeGreaterThan(0);
    expect(setResponse(guild, `!set last::${'r'.repeat(400)}`)).toBe('❌ looks like your auto responses already fill the 4096 characters this server keeps, try deleting some');
    expect([...guild.trackers.keys()]).toEqual(left); // a refused !set forgets nothing
    expect(removeResponse(guild, '!remove a')).toMatch(/^✅/);
    expect(setResponse(guild, `!set last::${'r'.repeat(400)}`)).toMatch(/^✅/);
  });

  it('counts a message remembered again under its id once', () => {
    const guild = newGuildState(0);
    rememberMessage(guild, '201', new PollTracker('t', ['a', 'b'], false));
    const once = guild.used;
    rememberMessage(guild, '201', new PollTracker('t', ['a', 'b'], false));
    expect(guild.used).toBe(once);
    rememberMessage(guild, '201', undefined);
    expect(guild.used).toBe(0);
  });

  it('allocates odd ids 1, 3, 5, … skipping known ones', () => {
    const guild = newGuildState(0);
    rememberMessage(guild, '3', new PollTracker('t', ['a'], false));
    expect([allocateId(guild), allocateId(guild), allocateId(guild)]).toEqual(['1', '5', '7']);
  });
});
