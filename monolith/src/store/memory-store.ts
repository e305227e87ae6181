import type { PoolType } from '@gateway/protocol';
import { checkIds, MAX_SEARCH_LIMIT, searchTexts, type Entity, type EntityStore } from './store.js';

interface Pool {
  entities: Map<string, Entity>;
  /** Sorted ids, for paging. */
  ids: string[];
  /** Sorted `<lowercase text>\u0000<id>` entries, for prefix search. */
  index: string[];
}

function lowerBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < key) lo = mid + 1;
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

/** The embedded store: one process, sorted arrays as indexes (used when REDIS_URL is unset). */
export class MemoryStore implements EntityStore {
  private readonly pools = new Map<string, Pool>();
  private readonly once = new Map<string, number>();

  async get(type: PoolType, guildId: string | undefined, ids: readonly string[]) {
    checkIds(ids);
    const pool = this.pools.get(key(type, guildId));
    const data: Entity[] = [];
    const nonexistent: string[] = [];
    for (const id of ids) {
      const e = pool?.entities.get(id);
      if (e) data.push(structuredClone(e));
      else nonexistent.push(id);
    }
    return { data, nonexistent };
  }

  async page(type: PoolType, guildId: string | undefined, cursor: string | undefined, limit: number) {
    const pool = this.pools.get(key(type, guildId));
    if (!pool) return { data: [], cursor: undefined };
    let at = cursor === undefined ? 0 : lowerBound(pool.ids, cursor);
    if (cursor !== undefined && pool.ids[at] === cursor) at++;
    const ids = pool.ids.slice(at, at + limit);
    const more = at + limit < pool.ids.length;
    return { data: ids.map((id) => structuredClone(pool.entities.get(id)!)), cursor: more ? ids.at(-1) : undefined };
  }

  async search(type: PoolType, guildId: string | undefined, query: string, limit: number) {
    const pool = this.pools.get(key(type, guildId));
    if (!pool) return [];
    const prefix = query.toLowerCase();
    const max = Math.min(limit, MAX_SEARCH_LIMIT);
    const out: Entity[] = [];
    const seen = new Set<string>();
    for (let i = lowerBound(pool.index, prefix); i < pool.index.length && out.length < max; i++) {
      const entry = pool.index[i]!;
      const sep = entry.lastIndexOf('\u0000');
      if (!entry.slice(0, sep).startsWith(prefix)) break;
      const id = entry.slice(sep + 1);
      if (seen.has(id)) continue;
      seen.add(id);
      out.push(structuredClone(pool.entities.get(id)!));
    }
    return out;
  }

  async put(type: PoolType, guildId: string | undefined, entity: Entity) {
    this.putOne(this.pool(type, guildId), entity);
  }

  async putMany(type: PoolType, guildId: string | undefined, entities: readonly Entity[]) {
    const pool = this.pool(type, guildId);
    for (const e of entities) this.putOne(pool, e);
  }

  async delete(type: PoolType, guildId: string | undefined, id: string) {
    const pool = this.pools.get(key(type, guildId));
    const old = pool?.entities.get(id);
    if (!pool || !old) return false;
    pool.entities.delete(id);
    remove(pool.ids, id);
    for (const text of searchTexts(old)) remove(pool.index, `${text}\u0000${id}`);
    return true;
  }

  async count(type: PoolType, guildId: string | undefined) {
    return this.pools.get(key(type, guildId))?.entities.size ?? 0;
  }

  async consumeOnce(k: string, ttlSeconds: number) {
    const now = Date.now();
    const until = this.once.get(k);
    if (until !== undefined && until > now) return false;
    this.once.set(k, now + ttlSeconds * 1000);
    if (this.once.size > 10_000) for (const [old, t] of this.once) if (t <= now) this.once.delete(old);
    return true;
  }

  async close() {}

  private pool(type: PoolType, guildId: string | undefined): Pool {
    const k = key(type, guildId);
    let pool = this.pools.get(k);
    if (!pool) this.pools.set(k, (pool = { entities: new Map(), ids: [], index: [] }));
    return pool;
  }

  private putOne(pool: Pool, entity: Entity): void {
    const old = pool.entities.get(entity.id);
    if (old) for (const text of searchTexts(old)) remove(pool.index, `${text}\u0000${entity.id}`);
    else insert(pool.ids, entity.id);
    pool.entities.set(entity.id, structuredClone(entity));
    for (const text of searchTexts(entity)) insert(pool.index, `${text}\u0000${entity.id}`);
  }
}

function key(type: PoolType, guildId: string | undefined): string {
  return `${type}:${guildId ?? '_'}`;
}
