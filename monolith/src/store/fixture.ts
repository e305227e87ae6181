import type { Entity, EntityStore, PoolType } from './store.js';

/** The demo guilds (DEMO_FIXTURE=true, `scripts/load-fixture.mjs`); the first is the big one. */
export const DEMO_GUILDS = [
  { id: '1234567890', name: 'Architus Demo', members: 3000 },
  { id: '2345678901', name: 'Second Guild', members: 200 },
  { id: '3456789012', name: 'Third Guild', members: 200 },
] as const;

/**
 * Members of every demo guild, for docs and tests. No generated name or nick starts with
 * `ali`, `bob`, `zed` or `zoe`, so searching `ali` finds exactly Alicia (nick Ali, sorting
 * first) and alice, `bob` finds bob, and `zed` finds zoe (nick Zed).
 */
export const KNOWN_MEMBERS: readonly Entity[] = [
  { id: '100000000000000001', name: 'alice' },
  { id: '100000000000000002', name: 'Alicia', nick: 'Ali' },
  { id: '100000000000000003', name: 'bob', nick: 'Bobby' },
  { id: '100000000000000004', name: 'zoe', nick: 'Zed' },
];

/** The author of the demo auto responses and emojis (KNOWN_MEMBERS' alice). */
const AUTHOR_ID = '100000000000000001';

/**
 * The front page's mock-bot guild id used by the docs and the dashboard page: in the mock id range
 * (below 10^7, `isMockGuild` in protocol), so guests may talk to the bot there. The store holds
 * nothing for it: the mock bot keeps mock guilds in memory, per visitor, and never reads the store.
 */
export const MOCK_GUILD_ID = '1000000';

/** The demo auto responses of every demo guild. */
export const DEMO_AUTO_RESPONSES = [
  { trigger: 'hello', response: 'Hello there!', reaction: '👋' },
  { trigger: 'good bot', response: 'Thank you! 🤖' },
  { trigger: 'ping', response: 'pong' },
] as const;

// Word lists for usernames (adjective_noun<n>), nicks (Noun), channels and emojis. None
// starts with ali, bob, zed or zoe (see KNOWN_MEMBERS). bench/api-cost.mjs searches `a ka lo mi
// ra ali zor shi ten q`: every one but ali fills a page of 20 (fixture.test.ts checks it).
const ADJECTIVES = ['amber', 'brave', 'calm', 'dusty', 'eager', 'fuzzy', 'gentle', 'hollow', 'icy', 'jolly', 'keen', 'lunar', 'mellow', 'misty', 'nimble', 'odd', 'proud', 'quiet', 'rusty', 'shiny', 'sunny', 'tender', 'tidy', 'urban', 'vivid', 'witty', 'young'];
const NOUNS = ['otter', 'falcon', 'maple', 'comet', 'badger', 'cedar', 'dune', 'ember', 'fjord', 'gecko', 'harbor', 'iris', 'jaguar', 'kayak', 'kite', 'lotus', 'lynx', 'meadow', 'nebula', 'orchid', 'pebble', 'quartz', 'raven', 'spruce', 'tundra', 'willow', 'zorilla'];
const TOPICS = ['announcements', 'memes', 'music', 'gaming', 'art', 'help', 'off-topic', 'dev', 'support', 'events', 'media', 'voice-chat', 'bots', 'rules', 'news', 'pets', 'food', 'books', 'movies'];

/** mulberry32: a small seeded PRNG, so the fixture is the same on every machine (the e2e fuzz uses it too). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const capital = (w: string) => w[0]!.toUpperCase() + w.slice(1);

/** A snowflake-like id: 18 digits, `base` plus an offset, as a string (never a number). */
const snowflake = (base: bigint, offset: number) => String(base + BigInt(offset));

const regexEscape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * An auto response in the architus dashboard's form (snake_case, `trigger_punctuation` a
 * string, `response_tokens` pairs); `reaction` is the mock bot's own extra.
 */
function autoResponse(id: string, guildId: string, r: (typeof DEMO_AUTO_RESPONSES)[number]): Entity {
  return {
    id,
    guild_id: guildId,
    ...r,
    author_id: AUTHOR_ID,
    trigger_regex: `\\b${regexEscape(r.trigger)}\\b`,
    trigger_punctuation: '',
    response_tokens: [['text', r.response]],
    count: 0,
    mode: 'naive',
  };
}

/** A Discord-style joined_at: an ISO string, a deterministic day of 2020-2023. */
const joinedAt = (rand: () => number) => new Date(Date.UTC(2020, 0, 1) + Math.floor(rand() * 4 * 365) * 86_400_000).toISOString();
const hexColor = (n: number) => `#${n.toString(16).padStart(6, '0')}`;

/**
 * All demo entities as [type, guild id or undefined, entities]. Deterministic. The shapes are
 * the architus dashboard's (Discord's fields): members `{id, name, nick?, discriminator
 * (string), joined_at, roles, avatar, color}`, users `{id, username, name, discriminator
 * (number), avatar}`, guilds `{id, name, icon, member_count, features}` (the per-user fields are
 * the guild pool's, at answer time), channels `{id, name}`, auto responses snake_case, custom
 * emojis per guild camelCase. Every id is 7-20 digits (setting values are keyed by name).
 */
export function demoEntities(): Array<[PoolType, string | undefined, Entity[]]> {
  const rand = prng(20261123);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const out: Array<[PoolType, string | undefined, Entity[]]> = [];
  const users = new Map<string, Entity>();
  out.push(['guild', undefined, DEMO_GUILDS.map((g) => ({ id: g.id, name: g.name, icon: null, member_count: g.members, features: [] }))]);
  DEMO_GUILDS.forEach((g, gi) => {
    const roles = Array.from({ length: 10 }, (_, i) => ({
      id: snowflake(400000000000000000n, gi * 100 + i),
      name: i === 0 ? '@everyone' : `${capital(pick(ADJECTIVES))} ${capital(pick(NOUNS))}s`,
      color: i === 0 ? 0 : Math.floor(rand() * 0xffffff),
      position: i,
    }));
    const members: Entity[] = [...KNOWN_MEMBERS];
    for (let i = members.length; i < g.members; i++) {
      // Numbered after the words: names repeat across guilds but are unique within one.
      const name = `${pick(ADJECTIVES)}_${pick(NOUNS)}${i}`;
      const id = snowflake(200000000000000000n, gi * 10000 + i);
      members.push(rand() < 0.3 ? { id, name, nick: capital(pick(NOUNS)) } : { id, name });
    }
    // `name` kept on users too: the native search and older readers use it.
    for (const m of members) users.set(m.id, { id: m.id, username: m.name, name: m.name, discriminator: 0, avatar: null, bot: false });
    out.push([
      'member',
      g.id,
      members.map((m) => {
        const role = rand() < 0.5 ? pick(roles.slice(1)) : undefined;
        return { ...m, guild_id: g.id, discriminator: '0', joined_at: joinedAt(rand), roles: role ? [role.id] : [], avatar: null, color: hexColor(role?.color ?? 0) };
      }),
    ]);
    out.push(['role', g.id, roles]);
    out.push(['channel', g.id, Array.from({ length: 20 }, (_, i) => ({ id: snowflake(300000000000000000n, gi * 100 + i), name: i === 0 ? 'general' : TOPICS[i - 1]!, position: i }))]);
    out.push(['autoResponse', g.id, DEMO_AUTO_RESPONSES.map((r, i) => autoResponse(snowflake(500000000000000000n, gi * 100 + i), g.id, r))]);
    out.push([
      'customEmoji',
      g.id,
      Array.from({ length: 30 }, (_, i) => {
        const discordId = snowflake(700000000000000000n, gi * 100 + i);
        const name = `${pick(ADJECTIVES)}_${NOUNS[i % NOUNS.length]}`;
        return { id: snowflake(600000000000000000n, gi * 100 + i), name, authorId: AUTHOR_ID, discordId, url: `https://cdn.discordapp.com/emojis/${discordId}.png`, numUses: Math.floor(rand() * 100), priority: i };
      }),
    ]);
    out.push(['settingValue', g.id, [{ id: 'prefix', value: '!' }, { id: 'log_channel', value: snowflake(300000000000000000n, gi * 100) }]]);
  });
  out.push(['user', undefined, [...users.values()]]);
  return out;
}

/**
 * Writes the demo entities, every pool concurrently (Redis: one pipelined batch per pool).
 * Idempotent: a second load replaces the same ids. Returns entity counts per pool type.
 */
export async function loadFixture(store: EntityStore): Promise<{ counts: Record<string, number> }> {
  const pools = demoEntities();
  await Promise.all(pools.map(([type, guildId, entities]) => store.putMany(type, guildId, entities)));
  const counts: Record<string, number> = {};
  for (const [type, , entities] of pools) counts[type] = (counts[type] ?? 0) + entities.length;
  return { counts };
}
