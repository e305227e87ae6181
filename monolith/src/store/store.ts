import { GUILD_POOLS, MAX_USER_GUILDS, POOL_TYPES, type PoolType } from '@gateway/protocol';

// The pool catalogue is the protocol's (requests name pool types); re-exported for store users.
export { POOL_TYPES, type PoolType };
/** Most guilds kept per user (the protocol's cap on the HTTP body). */
export { MAX_USER_GUILDS };

/** True for pools that belong to one guild (`member`, `channel`, `role`, `customEmoji`, `autoResponse`, `settingValue`). */
export function isGuildScoped(type: PoolType): boolean {
  return GUILD_POOLS.has(type);
}

/**
 * A pool entity: a JSON object with a string id (snowflakes are strings of digits, never
 * numbers; `settingValue` ids are setting names). Stored as JSON: what `get` returns equals
 * `JSON.parse(JSON.stringify(entity))` as put, never the caller's object.
 */
export interface Entity {
  id: string;
  name?: string;
  /** Users (Discord's field). */
  username?: string;
  /** Members' nickname (Discord's field). */
  nick?: string;
  /** Members' nickname as older data has it. */
  nickname?: string;
  [key: string]: unknown;
}

/**
 * One of a user's Discord guilds as stored for the guild pool (`PUT /api/users/:id/guilds`):
 * `permissions` already a number, `icon` and `features` filled in.
 */
export interface UserGuildEntry {
  id: string;
  name: string;
  icon: string | null;
  owner: boolean;
  /** The Discord permission bitfield (MANAGE_GUILD 0x20, ADMINISTRATOR 0x8). */
  permissions: number;
  features: string[];
}


/** Most ids per `get` (a `pool_request` for more is answered in several gets). */
export const MAX_GET_IDS = 1000;
/** Most entities per `page`; a larger `limit` is lowered to it (the cursor continues). */
export const MAX_PAGE_LIMIT = 1000;
/** Most entities per `search`; a larger `limit` is lowered to it. */
export const MAX_SEARCH_LIMIT = 100;
/** Longest entity id (the protocol caps request ids at 64 characters). */
export const MAX_ID_LENGTH = 64;

/** Bad input from the caller (malformed cursor, too many ids, invalid entity): a 400, not a 500. */
export class StoreInputError extends Error {
  readonly code = 'bad_request';
}

/**
 * Entities of the gateway's pools (DESIGN §5), per type and, for guild-scoped types, per guild:
 * `guildId` is the guild for those and undefined for global ones (`user`, `guild`). Pools are independent: the same id in two guilds is two entities.
 *
 * Contract, checked by `describeStore` for every implementation:
 * - `get` returns the found entities in the order of `ids` and lists the others, in order, in
 *   `nonexistent`. More than MAX_GET_IDS ids is a StoreInputError.
 * - `page` walks a pool in ascending id order, comparing ids as strings by code point (UTF-8
 *   byte order, Redis' lexicographic order): '10' sorts before '9', and snowflakes of equal
 *   length sort by age. See `compareStrings`. The cursor is opaque (today
 *   base64url of the last id returned); a page read with it starts right after that id, so an
 *   entity that exists throughout a walk is returned exactly once, whatever is added or
 *   removed meanwhile; entities added behind the cursor are not seen. `cursor` is undefined on
 *   the last page (which may be empty only when the pool is). A malformed cursor is a
 *   StoreInputError. `limit` is at least 1 and lowered to MAX_PAGE_LIMIT.
 * - `search` is a case-insensitive (`toLowerCase`) prefix match on `name`, `username`, `nick`
 *   and `nickname` (older data),
 *   served from a lexicographic index, never a scan of the pool. Each entity appears once,
 *   ordered by its smallest matched lowercase text, then id (both by code point); at most
 *   `limit` (lowered to MAX_SEARCH_LIMIT). The empty query matches every named entity.
 * - `get`, `page` and `search` each read one consistent state: an entity is never returned
 *   from a stale index entry.
 * - `put` replaces the whole entity and its index entries (a rename drops the old name from
 *   search) atomically: no reader sees one without the other. `putMany` is `put` for each,
 *   each atomic, not all-or-nothing. `delete` removes entity and index entries atomically and
 *   returns whether the entity existed.
 * - `putUserGuilds` replaces a user's Discord guild list (at most MAX_USER_GUILDS, else
 *   StoreInputError); `userGuilds` returns the last one put, in its order, or undefined when
 *   none is kept. Lists are bounded: Redis expires one USER_GUILDS_TTL_S after its last put, the
 *   memory store keeps the MAX_MEMORY_USER_GUILD_LISTS most recently put.
 * - `close` releases only what the store opened itself (not a connection passed in).
 */
export interface EntityStore {
  get(type: PoolType, guildId: string | undefined, ids: readonly string[]): Promise<{ data: Entity[]; nonexistent: string[] }>;
  page(type: PoolType, guildId: string | undefined, cursor: string | undefined, limit: number): Promise<{ data: Entity[]; cursor: string | undefined }>;
  search(type: PoolType, guildId: string | undefined, query: string, limit: number): Promise<Entity[]>;
  put(type: PoolType, guildId: string | undefined, entity: Entity): Promise<void>;
  /** Many entities of one pool at once (fixtures, imports), batched. */
  putMany(type: PoolType, guildId: string | undefined, entities: readonly Entity[]): Promise<void>;
  delete(type: PoolType, guildId: string | undefined, id: string): Promise<boolean>;
  count(type: PoolType, guildId: string | undefined): Promise<number>;
  putUserGuilds(userId: string, guilds: readonly UserGuildEntry[]): Promise<void>;
  userGuilds(userId: string): Promise<UserGuildEntry[] | undefined>;
  close(): Promise<void>;
}

/**
 * Code point order (equal to UTF-8 byte order, which Redis sorts by). JS `<` compares UTF-16
 * code units, which puts astral characters (surrogates) before U+E000-U+FFFF.
 */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Moves surrogates above the rest of the BMP (the classic code point order fix-up).
    if (x >= 0xd800 && y >= 0xd800) {
      x += x >= 0xe000 ? -0x800 : 0x2000;
      y += y >= 0xe000 ? -0x800 : 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** Separates text and id in a search entry; the smallest byte, so shorter texts sort first. */
export const SEARCH_SEPARATOR = '\u0000';
// Control characters would corrupt search entries (and the Redis script's entry list).
const CONTROL = /[\u0000-\u001f\u007f]/g;

/** The lowercase texts an entity is found by (name, username, nick, nickname; without duplicates). */
export function searchTexts(entity: Entity): string[] {
  const out: string[] = [];
  for (const text of [entity.name, entity.username, entity.nick, entity.nickname]) {
    if (typeof text !== 'string') continue;
    const lower = text.toLowerCase().replace(CONTROL, '');
    if (lower.length > 0 && !out.includes(lower)) out.push(lower);
  }
  return out;
}

/** The search index entries of an entity: `<text>\0<id>`. */
export function searchEntries(entity: Entity): string[] {
  return searchTexts(entity).map((text) => `${text}${SEARCH_SEPARATOR}${entity.id}`);
}

/** The prefix a query matches by, or undefined when nothing can match it. */
export function searchPrefix(query: string): string | undefined {
  const prefix = query.toLowerCase();
  // Indexed texts hold no control characters; a query with one cannot match (and a \0 would
  // reach into the id part of the entries).
  return /[\u0000-\u001f\u007f]/.test(prefix) ? undefined : prefix;
}

/** A user's guild list is kept this long after its last put (Redis); the backend puts it at sign-in. */
export const USER_GUILDS_TTL_S = 7 * 24 * 3600;
/** User guild lists the memory store keeps (the most recently put). */
export const MAX_MEMORY_USER_GUILD_LISTS = 10_000;

/** Throws StoreInputError for a list longer than MAX_USER_GUILDS. */
export function checkUserGuilds(guilds: readonly UserGuildEntry[]): void {
  if (guilds.length > MAX_USER_GUILDS) throw new StoreInputError(`at most ${MAX_USER_GUILDS} guilds per user`);
}

export function checkIds(ids: readonly string[]): void {
  if (ids.length > MAX_GET_IDS) throw new StoreInputError(`at most ${MAX_GET_IDS} ids per get`);
}

/** Returns the entity's JSON; throws StoreInputError unless it is an object with a valid id. */
export function entityJson(entity: Entity): string {
  if (typeof entity !== 'object' || entity === null || Array.isArray(entity)) throw new StoreInputError('an entity is a JSON object');
  const { id } = entity;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH || /[\u0000-\u001f\u007f]/.test(id)) {
    throw new StoreInputError(`an entity id is a string of 1-${MAX_ID_LENGTH} printable characters (snowflakes are strings)`);
  }
  return JSON.stringify(entity);
}

export function pageLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1) throw new StoreInputError('page limit must be a positive integer');
  return Math.min(limit, MAX_PAGE_LIMIT);
}

export function searchLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1) throw new StoreInputError('search limit must be a positive integer');
  return Math.min(limit, MAX_SEARCH_LIMIT);
}

/** The opaque cursor for "after `id`": base64url, so a later format can use another alphabet. */
export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

/** The id a cursor resumes after; throws StoreInputError on anything `encodeCursor` cannot make. */
export function decodeCursor(cursor: string): string {
  const id = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (id.length === 0 || encodeCursor(id) !== cursor) throw new StoreInputError('malformed cursor');
  return id;
}
