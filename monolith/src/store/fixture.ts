import type { Entity, EntityStore, PoolType } from './store.js';

/** The demo guilds (DEMO_FIXTURE=true, `scripts/load-fixture.mjs`); the first is the big one. */
export const DEMO_GUILDS = [
  { id: '1234567890', name: 'Architus Demo', members: 3000 },
  { id: '2345678901', name: 'Second Guild', members: 200 },
  { id: '3456789012', name: 'Third Guild', members: 200 },
] as const;

/**
 * Members of every demo guild, for docs and tests. No generated name or nickname starts with
 * `ali`, `bob`, `zed` or `zoe`, so searching `ali` finds exactly Alicia (nickname Ali, sorting
 * first) and alice, `bob` finds bob, and `zed` finds zoe (nickname Zed).
 */
export const KNOWN_MEMBERS: readonly Entity[] = [
  { id: '100000000000000001', name: 'alice' },
  { id: '100000000000000002', name: 'Alicia', nickname: 'Ali' },
  { id: '100000000000000003', name: 'bob', nickname: 'Bobby' },
  { id: '100000000000000004', name: 'zoe', nickname: 'Zed' },
];

/**
 * The front page's mock-bot guild: in the mock id range (below 10^7, `isMockGuild` in protocol),
 * so guests may `interpret` there; it has auto responses and nothing else (no guild entity).
 */
export const MOCK_GUILD_ID = '1000000';

/** The demo auto responses of every guild and the mock guild (the mock bot answers `hello`). */
export const DEMO_AUTO_RESPONSES = [
  { trigger: 'hello', response: 'Hello there!', reaction: '👋' },
  { trigger: 'good bot', response: 'Thank you! 🤖' },
  { trigger: 'ping', response: 'pong' },
] as const;

// Word lists for usernames (adjective_noun<n>), nicknames (Noun), channels and emojis. None
// starts with ali, bob, zed or zoe (see KNOWN_MEMBERS). bench/api-cost.mjs searches `a ka lo mi
// ra ali zor shi ten q`: every one but ali fills a page of 20 (fixture.test.ts checks it).
const ADJECTIVES = ['amber', 'brave', 'calm', 'dusty', 'eager', 'fuzzy', 'gentle', 'hollow', 'icy', 'jolly', 'keen', 'lunar', 'mellow', 'misty', 'nimble', 'odd', 'proud', 'quiet', 'rusty', 'shiny', 'sunny', 'tender', 'tidy', 'urban', 'vivid', 'witty', 'young'];
const NOUNS = ['otter', 'falcon', 'maple', 'comet', 'badger', 'cedar', 'dune', 'ember', 'fjord', 'gecko', 'harbor', 'iris', 'jaguar', 'kayak', 'kite', 'lotus', 'lynx', 'meadow', 'nebula', 'orchid', 'pebble', 'quartz', 'raven', 'spruce', 'tundra', 'willow', 'zorilla'];
const TOPICS = ['announcements', 'memes', 'music', 'gaming', 'art', 'help', 'off-topic', 'dev', 'support', 'events', 'media', 'voice-chat', 'bots', 'rules', 'news', 'pets', 'food', 'books', 'movies'];

/** mulberry32: a small seeded PRNG, so the fixture is the same on every machine. */
function prng(seed: number): () => number {
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

/** All demo entities as [type, guild id or undefined, entities]. Deterministic. */
export function demoEntities(): Array<[PoolType, string | undefined, Entity[]]> {
  const rand = prng(20261123);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const out: Array<[PoolType, string | undefined, Entity[]]> = [];
  const users = new Map<string, Entity>();
  out.push(['guild', undefined, DEMO_GUILDS.map((g) => ({ id: g.id, name: g.name, member_count: g.members }))]);
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
      members.push(rand() < 0.3 ? { id, name, nickname: capital(pick(NOUNS)) } : { id, name });
    }
    for (const m of members) users.set(m.id, { id: m.id, name: m.name, bot: false });
    out.push(['member', g.id, members.map((m) => ({ ...m, guild_id: g.id, roles: rand() < 0.5 ? [pick(roles.slice(1)).id] : [] }))]);
    out.push(['role', g.id, roles]);
    out.push(['channel', g.id, Array.from({ length: 20 }, (_, i) => ({ id: snowflake(300000000000000000n, gi * 100 + i), name: i === 0 ? 'general' : TOPICS[i - 1]!, position: i }))]);
    out.push(['autoResponse', g.id, DEMO_AUTO_RESPONSES.map((r, i) => ({ id: snowflake(500000000000000000n, gi * 100 + i), guild_id: g.id, ...r }))]);
    out.push(['settingValue', g.id, [{ id: 'prefix', value: '!' }, { id: 'log_channel', value: snowflake(300000000000000000n, gi * 100) }]]);
  });
  out.push(['autoResponse', MOCK_GUILD_ID, DEMO_AUTO_RESPONSES.map((r, i) => ({ id: snowflake(500000000000000000n, 9000 + i), guild_id: MOCK_GUILD_ID, ...r }))]);
  out.push(['user', undefined, [...users.values()]]);
  out.push(['customEmoji', undefined, Array.from({ length: 30 }, (_, i) => ({ id: snowflake(600000000000000000n, i), name: `${pick(ADJECTIVES)}_${NOUNS[i % NOUNS.length]}`, animated: i % 5 === 0 }))]);
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
