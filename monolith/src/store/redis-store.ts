import type { Redis } from 'ioredis';
import type { PoolType } from '@gateway/protocol';
import { checkIds, MAX_SEARCH_LIMIT, searchTexts, type Entity, type EntityStore } from './store.js';

/**
 * Redis layout, per pool `<p>` = `gw:pool:<type>:<guild id or _>` (other services may write it,
 * keeping all four keys in step, as the PUT script below does):
 * - `<p>` hash: id → entity JSON
 * - `<p>:ids` sorted set, all scores 0: ids, for paging in id order with ZRANGEBYLEX
 * - `<p>:search` sorted set, all scores 0: `<lowercase name or nickname>\0<id>`, for prefix
 *   search with ZRANGEBYLEX `[<prefix>` `[<prefix>\xff` (no scan)
 * - `<p>:idx` hash: id → its search entries joined by \x01, so a rename removes the old ones
 * Single-use keys: `SET <key> 1 NX EX <ttl>`.
 */
const PUT = `
local old = redis.call('HGET', KEYS[4], ARGV[1])
if old then for e in string.gmatch(old, '[^\\1]+') do redis.call('ZREM', KEYS[3], e) end end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
if ARGV[3] ~= '' then
  for e in string.gmatch(ARGV[3], '[^\\1]+') do redis.call('ZADD', KEYS[3], 0, e) end
  redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])
else
  redis.call('HDEL', KEYS[4], ARGV[1])
end
return 1`;

const DELETE = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
local old = redis.call('HGET', KEYS[4], ARGV[1])
if old then for e in string.gmatch(old, '[^\\1]+') do redis.call('ZREM', KEYS[3], e) end end
redis.call('HDEL', KEYS[4], ARGV[1])
return 1`;

type ScriptRedis = Redis & {
  gwPut(hash: string, ids: string, search: string, idx: string, id: string, json: string, entries: string): Promise<number>;
  gwDelete(hash: string, ids: string, search: string, idx: string, id: string): Promise<number>;
};

function keys(type: PoolType, guildId: string | undefined): [string, string, string, string] {
  const p = `gw:pool:${type}:${guildId ?? '_'}`;
  return [p, `${p}:ids`, `${p}:search`, `${p}:idx`];
}

const entriesOf = (e: Entity) => searchTexts(e).map((t) => `${t}\u0000${e.id}`).join('\u0001');

/** Pools in Redis hashes with lexicographic indexes; shared by every monolith. */
export class RedisStore implements EntityStore {
  private readonly redis: ScriptRedis;

  constructor(redis: Redis) {
    if (!('gwPut' in redis)) {
      redis.defineCommand('gwPut', { numberOfKeys: 4, lua: PUT });
      redis.defineCommand('gwDelete', { numberOfKeys: 4, lua: DELETE });
    }
    this.redis = redis as ScriptRedis;
  }

  async get(type: PoolType, guildId: string | undefined, ids: readonly string[]) {
    checkIds(ids);
    if (ids.length === 0) return { data: [], nonexistent: [] };
    const values = await this.redis.hmget(keys(type, guildId)[0], ...ids);
    const data: Entity[] = [];
    const nonexistent: string[] = [];
    values.forEach((v, i) => (v === null ? nonexistent.push(ids[i]!) : data.push(JSON.parse(v) as Entity)));
    return { data, nonexistent };
  }

  async page(type: PoolType, guildId: string | undefined, cursor: string | undefined, limit: number) {
    const ids = keys(type, guildId)[1];
    const page = await this.redis.zrangebylex(ids, cursor === undefined ? '-' : `(${cursor}`, '+', 'LIMIT', 0, limit + 1);
    const more = page.length > limit;
    const taken = page.slice(0, limit);
    const { data } = taken.length ? await this.get(type, guildId, taken) : { data: [] };
    return { data, cursor: more ? taken.at(-1) : undefined };
  }

  async search(type: PoolType, guildId: string | undefined, query: string, limit: number) {
    const [, , search] = keys(type, guildId);
    const max = Math.min(limit, MAX_SEARCH_LIMIT);
    const prefix = Buffer.from(query.toLowerCase());
    const min = Buffer.concat([Buffer.from('['), prefix]);
    const upper = Buffer.concat([Buffer.from('['), prefix, Buffer.from([0xff])]);
    const ids: string[] = [];
    let offset = 0;
    // An entity can match on name and nickname: read on until `max` distinct ids or the end.
    while (ids.length < max) {
      const batch = await this.redis.zrangebylex(search, min, upper, 'LIMIT', offset, max * 2);
      for (const entry of batch) {
        const id = entry.slice(entry.lastIndexOf('\u0000') + 1);
        if (!ids.includes(id)) ids.push(id);
        if (ids.length === max) break;
      }
      if (batch.length < max * 2) break;
      offset += batch.length;
    }
    return (await this.get(type, guildId, ids)).data;
  }

  async put(type: PoolType, guildId: string | undefined, entity: Entity) {
    await this.redis.gwPut(...keys(type, guildId), entity.id, JSON.stringify(entity), entriesOf(entity));
  }

  async putMany(type: PoolType, guildId: string | undefined, entities: readonly Entity[]) {
    const k = keys(type, guildId);
    for (let i = 0; i < entities.length; i += 500) {
      const pipeline = this.redis.pipeline() as ReturnType<Redis['pipeline']> & { gwPut: ScriptRedis['gwPut'] };
      for (const e of entities.slice(i, i + 500)) pipeline.gwPut(...k, e.id, JSON.stringify(e), entriesOf(e));
      const results = await pipeline.exec();
      const failed = results?.find(([err]) => err);
      if (failed) throw failed[0];
    }
  }

  async delete(type: PoolType, guildId: string | undefined, id: string) {
    return (await this.redis.gwDelete(...keys(type, guildId), id)) === 1;
  }

  async count(type: PoolType, guildId: string | undefined) {
    return this.redis.hlen(keys(type, guildId)[0]);
  }

  async consumeOnce(key: string, ttlSeconds: number) {
    return (await this.redis.set(key, '1', 'EX', ttlSeconds, 'NX')) === 'OK';
  }

  /** The connection belongs to whoever passed it in (the bus shares it). */
  async close() {}
}
