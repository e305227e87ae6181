import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startRedis, type RedisHandle } from '../../../testing/redis.js';
import { DEMO_GUILDS, demoEntities, KNOWN_MEMBERS, loadFixture } from './fixture.js';
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
      for (const e of entities) expect(e.id, type).toMatch(type === 'settingValue' ? /^[a-z_]+$/ : /^[0-9]{10,20}$/);
    }
    const of = (type: PoolType, guildId?: string) => pools.find(([t, g]) => t === type && g === guildId)?.[2] ?? [];
    DEMO_GUILDS.forEach((g) => {
      expect(of('member', g.id)).toHaveLength(g.members);
      expect(of('member', g.id)).toEqual(expect.arrayContaining(KNOWN_MEMBERS.map((m) => expect.objectContaining(m))));
      expect(of('channel', g.id)).toHaveLength(20);
      expect(of('role', g.id)).toHaveLength(10);
      expect(of('autoResponse', g.id)).toContainEqual(expect.objectContaining({ trigger: 'hello', response: 'Hello there!', guild_id: g.id }));
    });
    const memberIds = new Set(DEMO_GUILDS.flatMap((g) => of('member', g.id).map((m) => m.id)));
    expect(new Set(of('user').map((u) => u.id))).toEqual(memberIds);
    expect(of('customEmoji')).toHaveLength(30);
    expect(of('guild').map((g) => g.id)).toEqual(['1234567890', '2345678901', '3456789012']);
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
