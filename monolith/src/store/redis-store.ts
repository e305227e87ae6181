import type { ChainableCommander } from 'ioredis';
import { closeRedis, type RedisClient } from '@gateway/server-kit/redis';
import {
  checkIds,
  checkUserGuilds,
  decodeCursor,
  encodeCursor,
  entityJson,
  pageLimit,
  searchEntries,
  searchLimit,
  searchPrefix,
  type Entity,
  type EntityStore,
  type PoolType,
  type UserGuildEntry,
  USER_GUILDS_TTL_S,
} from './store.js';

/**
 * Redis layout, for other services that read or write pools directly. A pool is
 * `<p>` = `gw:pool:{<type>:<guild id, or _ for global pools>}`, four keys:
 * - `<p>` hash: id → entity JSON (ids are strings: snowflakes as digits)
 * - `<p>:ids` sorted set, every score 0: the ids, paged in byte order with ZRANGEBYLEX
 *   `(<last id>` `+` LIMIT 0 <n>
 * - `<p>:search` sorted set, every score 0: `<lowercased text>\0<id>` for each of the entity's
 *   `name`, `username`, `nick` and `nickname` (texts without control characters, not repeated
 *   when equal),
 *   searched with ZRANGEBYLEX `[<prefix>` `[<prefix>\xff` LIMIT (never a scan)
 * - `<p>:idx` hash: id → that id's search entries joined by \x01, so a replace or delete
 *   removes exactly the entries it added (Lua has no Unicode lowercasing to recompute them)
 * A writer must change all four in one MULTI or script, as PUT and DELETE below do; the
 * simplest way is to run those scripts (EVAL PUT 4 <p> <p>:ids <p>:search <p>:idx
 * <id> <json> <entries> ...).
 *
 *
 * A user's Discord guild list (the guild pool's guilds without architus, and the user's
 * `owner`/`permissions` in the others) is the string `gw:user-guilds:<user id>`: a JSON array of
 * `{id, name, icon, owner, permissions, features}`, replaced whole, expiring USER_GUILDS_TTL_S
 * after its last write.
 *
 * Reads are scripts too, so each one sees the index and the hash at one instant. All keys of
 * a pool share the `{<type>:<guild>}` hash tag, so every script touches one Redis Cluster slot
 * (and pools spread over the shards).
 */

/** Puts entities: ARGV is (id, json, entries joined by \x01) repeated. Atomic per call. */
const PUT = `
for i = 1, #ARGV, 3 do
  local id, json, entries = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local old = redis.call('HGET', KEYS[4], id)
  if old then for e in string.gmatch(old, '[^\\1]+') do redis.call('ZREM', KEYS[3], e) end end
  redis.call('HSET', KEYS[1], id, json)
  redis.call('ZADD', KEYS[2], 0, id)
  if entries ~= '' then
    for e in string.gmatch(entries, '[^\\1]+') do redis.call('ZADD', KEYS[3], 0, e) end
    redis.call('HSET', KEYS[4], id, entries)
  else
    redis.call('HDEL', KEYS[4], id)
  end
end
return #ARGV / 3`;

const DELETE = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
local old = redis.call('HGET', KEYS[4], ARGV[1])
if old then for e in string.gmatch(old, '[^\\1]+') do redis.call('ZREM', KEYS[3], e) end end
redis.call('HDEL', KEYS[4], ARGV[1])
return 1`;

/** One page: ARGV min, limit → {more, ids, jsons}. */
const PAGE = `
local limit = tonumber(ARGV[2])
local ids = redis.call('ZRANGEBYLEX', KEYS[2], ARGV[1], '+', 'LIMIT', 0, limit + 1)
local more = 0
if #ids > limit then more = 1; ids[#ids] = nil end
if #ids == 0 then return {0, {}, {}} end
return {more, ids, redis.call('HMGET', KEYS[1], unpack(ids))}`;

/** Prefix search: ARGV min, max, limit → {ids, jsons}, distinct ids in entry order. */
const SEARCH = `
local limit = tonumber(ARGV[3])
local ids, seen, offset = {}, {}, 0
while #ids < limit do
  local batch = redis.call('ZRANGEBYLEX', KEYS[2], ARGV[1], ARGV[2], 'LIMIT', offset, limit * 2)
  for _, e in ipairs(batch) do
    local id = string.match(e, '%z([^%z]*)$')
    if id and not seen[id] then
      seen[id] = true
      ids[#ids + 1] = id
      if #ids == limit then break end
    end
  end
  if #batch < limit * 2 then break end
  offset = offset + #batch
end
if #ids == 0 then return {{}, {}} end
return {ids, redis.call('HMGET', KEYS[1], unpack(ids))}`;

type Keys = [hash: string, ids: string, search: string, idx: string];
type Json = string | null;

interface StoreCommands {
  gwStorePut(hash: string, ids: string, search: string, idx: string, ...triples: string[]): Promise<number>;
  gwStoreDelete(hash: string, ids: string, search: string, idx: string, id: string): Promise<number>;
  gwStorePage(hash: string, ids: string, min: string, limit: number): Promise<[number, string[], Json[]]>;
  gwStoreSearch(hash: string, search: string, min: Buffer, max: Buffer, limit: number): Promise<[string[], Json[]]>;
}
type ScriptRedis = RedisClient & StoreCommands;

const userGuildsKey = (userId: string) => `gw:user-guilds:${userId}`;

function poolKeys(type: PoolType, guildId: string | undefined): Keys {
  const p = `gw:pool:{${type}:${guildId ?? '_'}}`;
  return [p, `${p}:ids`, `${p}:search`, `${p}:idx`];
}

/** Entities per PUT call in `putMany`: about 1 ms of Redis time per call, short enough not to stall other clients. */
const PUT_BATCH = 250;

const parsed = (jsons: Json[]): Entity[] => jsons.flatMap((j) => (j === null ? [] : [JSON.parse(j) as Entity]));

/** Pools in Redis hashes with lexicographic indexes, shared by every monolith. */
export class RedisStore implements EntityStore {
  private readonly redis: ScriptRedis;

  /** `owned`: the store opened `redis` and quits it on close; otherwise its owner does. */
  constructor(
    redis: RedisClient,
    private readonly owned = false,
  ) {
    // The connection may be shared (a caller's, e.g. scripts/load-fixture.mjs): define the scripts once.
    if (!('gwStorePut' in redis)) {
      redis.defineCommand('gwStorePut', { numberOfKeys: 4, lua: PUT });
      redis.defineCommand('gwStoreDelete', { numberOfKeys: 4, lua: DELETE });
      redis.defineCommand('gwStorePage', { numberOfKeys: 2, lua: PAGE });
      redis.defineCommand('gwStoreSearch', { numberOfKeys: 2, lua: SEARCH });
    }
    this.redis = redis as ScriptRedis;
  }

  async get(type: PoolType, guildId: string | undefined, ids: readonly string[]) {
    checkIds(ids);
    if (ids.length === 0) return { data: [], nonexistent: [] };
    // One HMGET is already atomic.
    const values = await this.redis.hmget(poolKeys(type, guildId)[0], ...ids);
    const data: Entity[] = [];
    const nonexistent: string[] = [];
    values.forEach((v, i) => (v === null ? nonexistent.push(ids[i]!) : data.push(JSON.parse(v) as Entity)));
    return { data, nonexistent };
  }

  async page(type: PoolType, guildId: string | undefined, cursor: string | undefined, limit: number) {
    const max = pageLimit(limit);
    const min = cursor === undefined ? '-' : `(${decodeCursor(cursor)}`;
    const [hash, ids] = poolKeys(type, guildId);
    const [more, taken, jsons] = await this.redis.gwStorePage(hash, ids, min, max);
    return { data: parsed(jsons), cursor: more === 1 ? encodeCursor(taken.at(-1)!) : undefined };
  }

  async search(type: PoolType, guildId: string | undefined, query: string, limit: number) {
    const max = searchLimit(limit);
    const prefix = searchPrefix(query);
    if (prefix === undefined) return [];
    const [hash, , search] = poolKeys(type, guildId);
    const text = Buffer.from(prefix, 'utf8');
    // 0xff never occurs in UTF-8, so `[<prefix>\xff` is above every entry with the prefix.
    const min = Buffer.concat([Buffer.from('['), text]);
    const upper = Buffer.concat([Buffer.from('['), text, Buffer.from([0xff])]);
    const [, jsons] = await this.redis.gwStoreSearch(hash, search, min, upper, max);
    return parsed(jsons);
  }

  async put(type: PoolType, guildId: string | undefined, entity: Entity) {
    const json = entityJson(entity);
    await this.redis.gwStorePut(...poolKeys(type, guildId), entity.id, json, searchEntries(entity).join('\u0001'));
  }

  async putMany(type: PoolType, guildId: string | undefined, entities: readonly Entity[]) {
    const triples = entities.flatMap((e) => [e.id, entityJson(e), searchEntries(e).join('\u0001')]);
    if (triples.length === 0) return;
    const keys = poolKeys(type, guildId);
    // One pipeline of batched script calls: one round trip for the lot.
    const pipeline = this.redis.pipeline() as ChainableCommander & Pick<StoreCommands, 'gwStorePut'>;
    for (let i = 0; i < triples.length; i += PUT_BATCH * 3) pipeline.gwStorePut(...keys, ...triples.slice(i, i + PUT_BATCH * 3));
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err);
    if (failed) throw failed[0];
  }

  async delete(type: PoolType, guildId: string | undefined, id: string) {
    return (await this.redis.gwStoreDelete(...poolKeys(type, guildId), id)) === 1;
  }

  async count(type: PoolType, guildId: string | undefined) {
    return this.redis.hlen(poolKeys(type, guildId)[0]);
  }

  async putUserGuilds(userId: string, guilds: readonly UserGuildEntry[]) {
    checkUserGuilds(guilds);
    await this.redis.set(userGuildsKey(userId), JSON.stringify(guilds), 'EX', USER_GUILDS_TTL_S);
  }

  async userGuilds(userId: string) {
    const json = await this.redis.get(userGuildsKey(userId));
    return json === null ? undefined : (JSON.parse(json) as UserGuildEntry[]);
  }

  async close() {
    if (this.owned) await closeRedis(this.redis);
  }
}
