import type { PoolType } from '@gateway/protocol';

/** A pool entity: any JSON object with a string id (snowflakes are strings, never numbers). */
export interface Entity {
  id: string;
  name?: string;
  nickname?: string;
  [key: string]: unknown;
}

export const MAX_GET_IDS = 1000;
export const MAX_SEARCH_LIMIT = 100;

/**
 * Entities of the gateway's pools, per type and (for guild pools) per guild; `guildId` is
 * undefined for global pools.
 *
 * Contract, checked by `describeStore` for every implementation:
 * - `get` returns found entities in the order of `ids` and lists the others as nonexistent;
 *   more than MAX_GET_IDS ids is an error.
 * - `page` walks a pool in ascending id order (string order). The cursor is the last id
 *   returned; a page read with it continues right after it, so entities that exist throughout a
 *   walk are seen exactly once, whatever is added or removed meanwhile. `cursor` is undefined on
 *   the last page.
 * - `search` is a case-insensitive prefix match on `name` and `nickname`, served from an index
 *   (never a scan of the pool): each entity at most once, ordered by the matched text then id,
 *   at most `limit` (capped at MAX_SEARCH_LIMIT).
 * - `put` replaces an entity and its index entries atomically; `delete` removes both.
 * - `consumeOnce` is true exactly once per key within its TTL, across every monolith sharing
 *   the store.
 */
export interface EntityStore {
  get(type: PoolType, guildId: string | undefined, ids: readonly string[]): Promise<{ data: Entity[]; nonexistent: string[] }>;
  page(type: PoolType, guildId: string | undefined, cursor: string | undefined, limit: number): Promise<{ data: Entity[]; cursor: string | undefined }>;
  search(type: PoolType, guildId: string | undefined, query: string, limit: number): Promise<Entity[]>;
  put(type: PoolType, guildId: string | undefined, entity: Entity): Promise<void>;
  /** Many entities of one pool at once (fixtures, imports). */
  putMany(type: PoolType, guildId: string | undefined, entities: readonly Entity[]): Promise<void>;
  delete(type: PoolType, guildId: string | undefined, id: string): Promise<boolean>;
  count(type: PoolType, guildId: string | undefined): Promise<number>;
  consumeOnce(key: string, ttlSeconds: number): Promise<boolean>;
  close(): Promise<void>;
}

/** The lowercase texts an entity is found by. */
export function searchTexts(entity: Entity): string[] {
  const out: string[] = [];
  for (const text of [entity.name, entity.nickname]) {
    if (typeof text === 'string' && text.length > 0) {
      const lower = text.toLowerCase();
      if (!out.includes(lower)) out.push(lower);
    }
  }
  return out;
}

export function checkIds(ids: readonly string[]): void {
  if (ids.length > MAX_GET_IDS) throw new Error(`at most ${MAX_GET_IDS} ids per get`);
}
