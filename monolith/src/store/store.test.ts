import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The e2e harness' redis-server (a child on a free port, or REDIS_URL): one helper for all tests.
import { startRedis, type RedisHandle } from '../../../testing/redis.js';
import { createStore } from './create-store.js';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import { describeStore } from './store.contract.js';
import { isGuildScoped, MAX_MEMORY_USER_GUILD_LISTS, POOL_TYPES, USER_GUILDS_TTL_S } from './store.js';

describeStore('memory', async () => new MemoryStore());

describe('createStore and pool scopes', () => {
  it('picks memory without a Redis topology', () => {
    expect(createStore(undefined)).toBeInstanceOf(MemoryStore);
  });

  it('the memory store keeps the most recently put user guild lists, evicting the oldest', async () => {
    const s = new MemoryStore();
    for (let i = 0; i <= MAX_MEMORY_USER_GUILD_LISTS; i++) await s.putUserGuilds(`u${i}`, []);
    expect(await s.userGuilds('u0')).toBeUndefined();
    expect(await s.userGuilds('u1')).toEqual([]);
    // A put again makes a list the newest: the next eviction takes u2, not u1.
    await s.putUserGuilds('u1', []);
    await s.putUserGuilds('new', []);
    expect(await s.userGuilds('u1')).toEqual([]);
    expect(await s.userGuilds('u2')).toBeUndefined();
  });

  it('knows which pools are guild-scoped', () => {
    expect(POOL_TYPES.filter(isGuildScoped)).toEqual(['member', 'channel', 'role', 'customEmoji', 'autoResponse', 'settingValue']);
    expect(POOL_TYPES.filter((t) => !isGuildScoped(t))).toEqual(['user', 'guild']);
  });
});

describe('redis', () => {
  let redis: RedisHandle;
  let admin: Redis;
  const clients: Redis[] = [];
  const client = () => {
    const c = new Redis(redis.url);
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    redis = await startRedis();
    admin = client();
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await redis?.stop();
  });
  const guild = () => String(2e15 + Math.floor(Math.random() * 1e15));

  describeStore('redis', async () => new RedisStore(client()));

  it('writes the layout redis-store.ts documents', async () => {
    const store = new RedisStore(client());
    const g = guild();
    const p = `gw:pool:{member:${g}}`;
    await store.put('member', g, { id: '42', name: 'Alice', nickname: 'Al' });
    expect(await admin.hgetall(p)).toEqual({ 42: JSON.stringify({ id: '42', name: 'Alice', nickname: 'Al' }) });
    expect(await admin.zrangebylex(`${p}:ids`, '-', '+')).toEqual(['42']);
    expect(await admin.zrange(`${p}:ids`, 0, -1, 'WITHSCORES')).toEqual(['42', '0']);
    expect(await admin.zrangebylex(`${p}:search`, '-', '+')).toEqual(['al\u000042', 'alice\u000042']);
    expect(await admin.hget(`${p}:idx`, '42')).toBe('alice\u000042\u0001al\u000042');
    await store.put('customEmoji', g, { id: `e${g}`, name: 'x' });
    expect(await admin.hexists(`gw:pool:{customEmoji:${g}}`, `e${g}`)).toBe(1);
    await store.put('user', undefined, { id: `u${g}`, username: 'Ann', name: 'ann' });
    expect(await admin.hexists('gw:pool:{user:_}', `u${g}`)).toBe(1);
    expect(await admin.hget('gw:pool:{user:_}:idx', `u${g}`)).toBe(`ann\u0000u${g}`);
    await store.putUserGuilds(`u${g}`, [{ id: g, name: 'G', icon: null, owner: true, permissions: 8, features: [] }]);
    expect(JSON.parse((await admin.get(`gw:user-guilds:u${g}`))!)).toEqual([{ id: g, name: 'G', icon: null, owner: true, permissions: 8, features: [] }]);
    const ttl = await admin.ttl(`gw:user-guilds:u${g}`);
    expect(ttl).toBeGreaterThan(USER_GUILDS_TTL_S - 60);
    expect(ttl).toBeLessThanOrEqual(USER_GUILDS_TTL_S);
    await store.delete('customEmoji', g, `e${g}`);
    await store.delete('member', g, '42');
    expect(await admin.exists(p, `${p}:ids`, `${p}:search`, `${p}:idx`)).toBe(0);
    const e = `gw:pool:{customEmoji:${g}}`;
    expect(await admin.exists(e, `${e}:ids`)).toBe(0);
  });

  it('serves entities another service wrote by that layout, and replaces them cleanly', async () => {
    const store = new RedisStore(client());
    const g = guild();
    const p = `gw:pool:{member:${g}}`;
    await admin
      .multi()
      .hset(p, '7', JSON.stringify({ id: '7', name: 'Bob', nickname: 'Bobby' }))
      .zadd(`${p}:ids`, 0, '7')
      .zadd(`${p}:search`, 0, 'bob\u00007', 0, 'bobby\u00007')
      .hset(`${p}:idx`, '7', 'bob\u00007\u0001bobby\u00007')
      .exec();
    expect((await store.search('member', g, 'BOB', 10)).map((e) => e.id)).toEqual(['7']);
    expect((await store.page('member', g, undefined, 10)).data).toEqual([{ id: '7', name: 'Bob', nickname: 'Bobby' }]);
    await store.put('member', g, { id: '7', name: 'carol' });
    expect(await admin.zrangebylex(`${p}:search`, '-', '+')).toEqual(['carol\u00007']);
  });

  it('shares a passed connection, and closes only one it opened', async () => {
    const url = redis.topology;
    const shared = client();
    await createStore(url, shared).close();
    expect(await shared.ping()).toBe('PONG');
    const own = createStore(url);
    expect(own).toBeInstanceOf(RedisStore);
    expect(await own.count('member', guild())).toBe(0);
    await own.close();
    await expect(own.count('member', guild())).rejects.toThrow();
  });
});
