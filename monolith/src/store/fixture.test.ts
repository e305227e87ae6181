import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startRedis, type RedisHandle } from '../../../testing/redis.js';
import { DEMO_GUILDS, demoEntities, KNOWN_MEMBERS, loadFixture, MOCK_GUILD_ID } from './fixture.js';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import { isGuildScoped, type Entity, type EntityStore, type PoolType } from './store.js';

async function all(store: EntityStore, type: PoolType, guildId: string | undefined): Promise<Entity[]> {
  const out: Entity[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.page(type, guildId, cursor, 1000);
    out.push(...page.data);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return out;
}

const ID = /^[0-9]{7,20}$/;
const of = (pools: ReturnType<typeof demoEntities>, type: PoolType, guildId?: string) => pools.find(([t, g]) => t === type && g === guildId)?.[2] ?? [];

// The dashboard's io-ts decoders (architus/archit.us develop, app/src/utility/types.ts), as
// field rules: a required field must have its type; an optional one may be missing or null.
type Rule = [field: string, required: boolean, ok: (v: unknown) => boolean];
const str = (v: unknown) => typeof v === 'string';
const num = (v: unknown) => typeof v === 'number';
const id = (v: unknown) => typeof v === 'string' && ID.test(v);
const isoTime = (v: unknown) => typeof v === 'string' && !Number.isNaN(new Date(v).getTime());
const DECODERS: Partial<Record<PoolType, Rule[]>> = {
  member: [['id', true, id], ['name', true, str], ['discriminator', true, str], ['joined_at', true, isoTime], ['roles', true, (v) => Array.isArray(v) && v.every(id)], ['avatar', false, str], ['color', false, str], ['nick', false, str]],
  user: [['id', true, id], ['username', true, str], ['discriminator', true, num], ['avatar', false, str]],
  channel: [['id', true, id], ['name', true, str]],
  customEmoji: [['id', true, id], ['name', true, str], ['authorId', true, id], ['url', true, str], ['numUses', true, num], ['priority', true, num], ['discordId', false, id]],
  autoResponse: [
    ['id', true, id],
    ['trigger', true, str],
    ['response', true, str],
    ['guild_id', true, id],
    ['trigger_regex', true, str],
    ['trigger_punctuation', true, str],
    ['response_tokens', true, (v) => Array.isArray(v) && v.every((t) => Array.isArray(t) && t.length === 2 && t.every(str))],
    ['count', true, num],
    ['mode', true, (v) => v === 'punctuated' || v === 'naive' || v === 'regex'],
    ['author_id', false, id],
  ],
};
const problems = (rules: Rule[], e: Record<string, unknown>) =>
  rules.filter(([field, required, ok]) => (e[field] === undefined || e[field] === null ? required : !ok(e[field]))).map(([field]) => field);

describe('demo fixture', () => {
  it('is deterministic, without Math.random', () => {
    const random = vi.spyOn(Math, 'random').mockImplementation(() => {
      throw new Error('the fixture must not use Math.random');
    });
    try {
      expect(demoEntities()).toEqual(demoEntities());
    } finally {
      random.mockRestore();
    }
  });

  it('has the promised shape: string ids, scopes, one user per member, known members', () => {
    const pools = demoEntities();
    for (const [type, guildId, entities] of pools) {
      expect(guildId !== undefined, type).toBe(isGuildScoped(type));
      expect(new Set(entities.map((e) => e.id)).size, `${type} ids are unique`).toBe(entities.length);
      for (const e of entities) expect(e.id, type).toMatch(type === 'settingValue' ? /^[a-z_]+$/ : ID);
    }
    const of = (type: PoolType, guildId?: string) => pools.find(([t, g]) => t === type && g === guildId)?.[2] ?? [];
    // The mock bot never reads the store: nothing is loaded for its guild.
    expect(pools.filter(([, g]) => g === MOCK_GUILD_ID)).toEqual([]);
    DEMO_GUILDS.forEach((g) => {
      expect(of('member', g.id)).toHaveLength(g.members);
      expect(of('member', g.id)).toEqual(expect.arrayContaining(KNOWN_MEMBERS.map((m) => expect.objectContaining(m))));
      expect(of('channel', g.id)).toHaveLength(20);
      expect(of('role', g.id)).toHaveLength(10);
      expect(of('autoResponse', g.id)).toContainEqual(expect.objectContaining({ trigger: 'hello', response: 'Hello there!', guild_id: g.id }));
    });
    const memberIds = new Set(DEMO_GUILDS.flatMap((g) => of('member', g.id).map((m) => m.id)));
    expect(new Set(of('user').map((u) => u.id))).toEqual(memberIds);
    expect(of('customEmoji')).toEqual([]);
    for (const g of DEMO_GUILDS) expect(of('customEmoji', g.id)).toHaveLength(30);
    expect(of('guild').map((g) => g.id)).toEqual(['1234567890', '2345678901', '3456789012']);
  });

  it("passes the architus dashboard's decoders (develop): every entity of its pools, field by field", () => {
    const pools = demoEntities();
    const checked = new Set<string>();
    for (const [type, guildId, entities] of pools) {
      const decoder = DECODERS[type];
      if (!decoder) continue;
      checked.add(type);
      for (const e of entities) expect(problems(decoder, e), `${type} ${guildId} ${e.id}`).toEqual([]);
    }
    expect([...checked].sort()).toEqual(['autoResponse', 'channel', 'customEmoji', 'member', 'user']);
    // The decoders are not vacuous: the old shapes fail them.
    expect(problems(DECODERS.member!, { id: '100000000000000002', name: 'Alicia', nickname: 'Ali', roles: [] })).toEqual(['discriminator', 'joined_at']);
    expect(problems(DECODERS.member!, { ...of(pools, 'member', DEMO_GUILDS[0].id)[1], nick: 5 })).toEqual(['nick']);
    expect(problems(DECODERS.user!, { id: '100000000000000001', name: 'alice', bot: false })).toEqual(['username', 'discriminator']);
    expect(problems(DECODERS.customEmoji!, { id: '600000000000000000', name: 'x', animated: true })).toEqual(['authorId', 'url', 'numUses', 'priority']);
    expect(problems(DECODERS.channel!, { id: '42', name: 'general' })).toEqual(['id']);
    // Known members by their Discord fields.
    expect(of(pools, 'member', DEMO_GUILDS[0].id).find((m) => m.id === '100000000000000002')).toMatchObject({ name: 'Alicia', nick: 'Ali', discriminator: '0' });
    expect(of(pools, 'member', DEMO_GUILDS[0].id).some((m) => 'nickname' in m)).toBe(false);
  });

  it('stores guilds without the per-user fields (the guild pool computes them)', () => {
    for (const g of of(demoEntities(), 'guild')) {
      expect(g).toEqual({ id: g.id, name: expect.any(String), icon: null, member_count: expect.any(Number), features: [] });
    }
  });

  describe('loaded into memory and Redis', () => {
    let redis: RedisHandle;
    let client: Redis;
    let stores: Array<[string, EntityStore]>;
    beforeAll(async () => {
      redis = await startRedis();
      client = new Redis(redis.url);
      stores = [
        ['memory', new MemoryStore()],
        ['redis', new RedisStore(client)],
      ];
      for (const [, s] of stores) await loadFixture(s);
    });
    afterAll(async () => {
      client?.disconnect();
      await redis?.stop();
    });

    it('finds the known members by prefix in both, identically', async () => {
      const guild = DEMO_GUILDS[0].id;
      for (const [name, s] of stores) {
        const names = async (q: string) => (await s.search('member', guild, q, 100)).map((e) => e.name);
        expect(await names('ALI'), name).toEqual(['Alicia', 'alice']);
        expect(await names('bob'), name).toEqual(['bob']);
        expect(await names('zed'), name).toEqual(['zoe']);
        expect((await s.search('member', guild, 'o', 100)).length, name).toBe(100);
        // The queries bench/api-cost.mjs measures: each must do a full page of work.
        for (const q of ['a', 'ka', 'lo', 'mi', 'ra', 'zor', 'shi', 'ten', 'q']) expect((await s.search('member', guild, q, 20)).length, `${name} ${q}`).toBe(20);
      }
    });

    it('holds the same entities in both, and a second load changes nothing', async () => {
      const { counts } = await loadFixture(stores[1]![1]);
      expect(counts.member).toBe(3400);
      for (const [type, guildId, entities] of demoEntities()) {
        const [mem, red] = await Promise.all(stores.map(([, s]) => all(s, type, guildId)));
        expect(red, `${type} ${guildId}`).toEqual(mem);
        expect(red!.length).toBe(entities.length);
        expect(await stores[1]![1].count(type, guildId)).toBe(entities.length);
      }
    });
  });
});
