import {
  checkIds,
  checkUserGuilds,
  compareStrings,
  decodeCursor,
  encodeCursor,
  entityJson,
  pageLimit,
  searchEntries,
  searchLimit,
  searchPrefix,
  SEARCH_SEPARATOR,
  type Entity,
  type EntityStore,
  type PoolType,
  type UserGuildEntry,
  MAX_MEMORY_USER_GUILD_LISTS,
} from './store.js';

interface Stored {
  /** The entity as JSON, like Redis holds it: readers get a fresh copy, writers cannot alias. */
  json: string;
  /** Its search entries, so a replace or delete removes exactly those. */
  entries: string[];
}

interface Pool {
  entities: Map<string, Stored>;
  /** Ids in code point order, for paging. */
  ids: string[];
  /** `<lowercase text>\0<id>` entries in code point order, for prefix search. */
  index: string[];
}

/** First position whose element is not below `key`. */
function lowerBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareStrings(sorted[mid]!, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insert(sorted: string[], key: string): void {
  const at = lowerBound(sorted, key);
  if (sorted[at] !== key) sorted.splice(at, 0, key);
}

function remove(sorted: string[], key: string): void {
  const at = lowerBound(sorted, key);
  if (sorted[at] === key) sorted.splice(at, 1);
}

/**
 * The embedded store (REDIS_URL unset): one process, sorted arrays as indexes. Every method
 * runs synchronously inside its promise, so each is atomic with respect to the others.
 */
export class MemoryStore implements EntityStore {
  private readonly pools = new Map<string, Pool>();
  /** User id → guild list as JSON, in order of last put (Map order): the oldest is evicted first. */
  private readonly userGuildLists = new Map<string, string>();

  async get(type: PoolType, guildId: string | undefined, ids: readonly string[]) {
    checkIds(ids);
    const pool = this.pools.get(key(type, guildId));
    const data: Entity[] = [];
    const nonexistent: string[] = [];
    for (const id of ids) {
      const stored = pool?.entities.get(id);
      if (stored) data.push(JSON.parse(stored.json) as Entity);
      else nonexistent.push(id);
    }
    return { data, nonexistent };
  }

  async page(type: PoolType, guildId: string | undefined, cursor: string | undefined, limit: number) {
    const max = pageLimit(limit);
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const pool = this.pools.get(key(type, guildId));
    if (!pool) return { data: [], cursor: undefined };
    let at = after === undefined ? 0 : lowerBound(pool.ids, after);
    if (after !== undefined && pool.ids[at] === after) at++;
    const ids = pool.ids.slice(at, at + max);
    const more = at + max < pool.ids.length;
    const data = ids.map((id) => JSON.parse(pool.entities.get(id)!.json) as Entity);
    return { data, cursor: more ? encodeCursor(ids.at(-1)!) : undefined };
  }

  async search(type: PoolType, guildId: string | undefined, query: string, limit: number) {
    const max = searchLimit(limit);
    const prefix = searchPrefix(query);
    const pool = this.pools.get(key(type, guildId));
    if (!pool || prefix === undefined) return [];
    const out: Entity[] = [];
    const seen = new Set<string>();
    // Entries with the prefix are contiguous from its lower bound; an entity's first entry is
    // its smallest matching text.
    for (let i = lowerBound(pool.index, prefix); i < pool.index.length && out.length < max; i++) {
      const entry = pool.index[i]!;
      if (!entry.startsWith(prefix)) break;
      const id = entry.slice(entry.lastIndexOf(SEARCH_SEPARATOR) + 1);
      if (seen.has(id)) continue;
      seen.add(id);
      out.push(JSON.parse(pool.entities.get(id)!.json) as Entity);
    }
    return out;
  }

  async put(type: PoolType, guildId: string | undefined, entity: Entity) {
    const json = entityJson(entity);
    this.putOne(this.pool(type, guildId), entity, json);
  }

  async putMany(type: PoolType, guildId: string | undefined, entities: readonly Entity[]) {
    // Validate all first, so a bad entity in the batch writes none (stricter than the contract).
    const jsons = entities.map(entityJson);
    const pool = this.pool(type, guildId);
    entities.forEach((e, i) => this.putOne(pool, e, jsons[i]!));
  }

  async delete(type: PoolType, guildId: string | undefined, id: string) {
    const pool = this.pools.get(key(type, guildId));
    const old = pool?.entities.get(id);
    if (!pool || !old) return false;
    pool.entities.delete(id);
    remove(pool.ids, id);
    for (const entry of old.entries) remove(pool.index, entry);
    if (pool.entities.size === 0) this.pools.delete(key(type, guildId));
    return true;
  }

  async count(type: PoolType, guildId: string | undefined) {
    return this.pools.get(key(type, guildId))?.entities.size ?? 0;
  }

  async putUserGuilds(userId: string, guilds: readonly UserGuildEntry[]) {
    checkUserGuilds(guilds);
    this.userGuildLists.delete(userId);
    this.userGuildLists.set(userId, JSON.stringify(guilds));
    if (this.userGuildLists.size > MAX_MEMORY_USER_GUILD_LISTS) this.userGuildLists.delete(this.userGuildLists.keys().next().value!);
  }

  async userGuilds(userId: string) {
    const json = this.userGuildLists.get(userId);
    return json === undefined ? undefined : (JSON.parse(json) as UserGuildEntry[]);
  }

  async close() {}

  private pool(type: PoolType, guildId: string | undefined): Pool {
    const k = key(type, guildId);
    let pool = this.pools.get(k);
    if (!pool) this.pools.set(k, (pool = { entities: new Map(), ids: [], index: [] }));
    return pool;
  }

  private putOne(pool: Pool, entity: Entity, json: string): void {
    const old = pool.entities.get(entity.id);
    if (old) for (const entry of old.entries) remove(pool.index, entry);
    else insert(pool.ids, entity.id);
    const entries = searchEntries(entity);
    pool.entities.set(entity.id, { json, entries });
    for (const entry of entries) insert(pool.index, entry);
  }
}

function key(type: PoolType, guildId: string | undefined): string {
  return `${type}:${guildId ?? '_'}`;
}
