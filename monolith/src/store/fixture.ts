import type { PoolType } from '@gateway/protocol';
import type { Entity, EntityStore } from './store.js';

/** The demo guilds (DEMO_FIXTURE=true, `scripts/load-fixture.mjs`). */
export const DEMO_GUILDS = [
  { id: '1234567890', name: 'Architus Demo', members: 3000 },
  { id: '2345678901', name: 'Second Guild', members: 200 },
  { id: '3456789012', name: 'Third Guild', members: 200 },
] as const;

/** Members every demo guild has, for docs and tests. */
export const KNOWN_MEMBERS: readonly Entity[] = [
  { id: '100000000000000001', name: 'alice' },
  { id: '100000000000000002', name: 'Alicia', nickname: 'Ali' },
  { id: '100000000000000003', name: 'bob', nickname: 'Bobby' },
  { id: '100000000000000004', name: 'zoe', nickname: 'Zed' },
];

const SYLLABLES = ['ka', 'lo', 'mi', 'ra', 'ten', 'vo', 'shi', 'an', 'del', 'qu', 'bri', 'zor', 'fe', 'nix', 'po', 'ul'];

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

function word(rand: () => number, parts: number): string {
  let w = '';
  for (let i = 0; i < parts; i++) w += SYLLABLES[Math.floor(rand() * SYLLABLES.length)];
  return w;
}

/** All demo entities as [type, guild id or undefined, entities]. Deterministic. */
export function demoEntities(): Array<[PoolType, string | undefined, Entity[]]> {
  const rand = prng(20261123);
  const out: Array<[PoolType, string | undefined, Entity[]]> = [];
  const users = new Map<string, Entity>();
  out.push(['guild', undefined, DEMO_GUILDS.map((g) => ({ id: g.id, name: g.name, member_count: g.members }))]);
  DEMO_GUILDS.forEach((g, gi) => {
    const members: Entity[] = [...KNOWN_MEMBERS];
    for (let i = members.length; i < g.members; i++) {
      const name = `${word(rand, 2 + Math.floor(rand() * 2))}${i}`;
      const id = String(200000000000000000n + BigInt(gi * 10000 + i));
      members.push(rand() < 0.3 ? { id, name, nickname: word(rand, 2) } : { id, name });
    }
    for (const m of members) users.set(m.id, { id: m.id, name: m.name, bot: false });
    out.push(['member', g.id, members.map((m) => ({ ...m, guild_id: g.id, roles: [] }))]);
    out.push(['channel', g.id, Array.from({ length: 20 }, (_, i) => ({ id: String(300000000000000000n + BigInt(gi * 100 + i)), name: i === 0 ? 'general' : `${word(rand, 2)}-${i}`, position: i }))]);
    out.push(['role', g.id, Array.from({ length: 10 }, (_, i) => ({ id: String(400000000000000000n + BigInt(gi * 100 + i)), name: i === 0 ? '@everyone' : word(rand, 2), color: Math.floor(rand() * 0xffffff) }))]);
    out.push([
      'autoResponse',
      g.id,
      [
        { id: String(500000000000000000n + BigInt(gi * 100)), guild_id: g.id, trigger: 'hello', response: 'Hello there!', reaction: '👋' },
        { id: String(500000000000000001n + BigInt(gi * 100)), guild_id: g.id, trigger: 'good bot', response: 'Thank you! 🤖' },
        { id: String(500000000000000002n + BigInt(gi * 100)), guild_id: g.id, trigger: 'ping', response: 'pong' },
      ],
    ]);
    out.push(['settingValue', g.id, [{ id: 'prefix', value: '!' }, { id: 'log_channel', value: String(300000000000000000n + BigInt(gi * 100)) }]]);
  });
  out.push(['user', undefined, [...users.values()]]);
  out.push(['customEmoji', undefined, Array.from({ length: 30 }, (_, i) => ({ id: String(600000000000000000n + BigInt(i)), name: word(rand, 2), animated: i % 5 === 0 }))]);
  return out;
}

/** Writes the demo entities (idempotent: a second load replaces them). */
export async function loadFixture(store: EntityStore): Promise<{ counts: Record<string, number> }> {
  const counts: Record<string, number> = {};
  for (const [type, guildId, entities] of demoEntities()) {
    await store.putMany(type, guildId, entities);
    counts[type] = (counts[type] ?? 0) + entities.length;
  }
  return { counts };
}
