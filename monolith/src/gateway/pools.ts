import {
  ApiEvent,
  ErrorCode,
  GUILD_POOLS,
  inGuild,
  validatePoolAllRequest,
  validatePoolRequest,
  validatePoolSearchRequest,
  type PoolType,
  type TokenClaims,
} from '@gateway/protocol';
import type { EntityStore } from '../store/store.js';
import type { Context, Gateway } from './gateway.js';

/** Entities per `pool_response` chunk of a `pool_all_request`: bounded frames, steady memory. */
export const POOL_CHUNK = 500;
const SEARCH_DEFAULT_LIMIT = 20;

/**
 * The scope a pool request may read, or an error already sent. Guild pools need `guild_id` and
 * the guild in the token; the `guild` pool is filtered to the caller's guilds afterwards.
 */
function scope(ctx: Context, type: PoolType, guildId: string | undefined): { guildId: string | undefined } | undefined {
  if (!GUILD_POOLS.has(type)) return { guildId: undefined };
  if (guildId === undefined) {
    ctx.error(ErrorCode.BAD_REQUEST, `pool ${type} needs guild_id`);
    return undefined;
  }
  if (!inGuild(ctx.conn.claims, guildId)) {
    ctx.error(ErrorCode.FORBIDDEN, `guild ${guildId} is not in your token`);
    return undefined;
  }
  return { guildId };
}

/** Ids of the `guild` pool a token may see. */
function visibleGuild(claims: TokenClaims, id: string): boolean {
  return claims.admin === true || (claims.guilds !== undefined && Object.hasOwn(claims.guilds, id));
}

/**
 * `pool_request`, `pool_all_request` (streamed, resumable by cursor) and `pool_search_request`
 * (prefix match on name and nickname): the seed's three-step member search is one of each.
 */
export function registerPools(gateway: Gateway, store: EntityStore): void {
  gateway.on(ApiEvent.POOL_REQUEST, async (ctx, data) => {
    if (!validatePoolRequest.check(data)) return ctx.error(ErrorCode.BAD_REQUEST, validatePoolRequest.explain(data));
    const s = scope(ctx, data.type, data.guild_id);
    if (!s) return;
    let ids = data.ids;
    let hidden: string[] = [];
    if (data.type === 'guild') {
      hidden = ids.filter((id) => !visibleGuild(ctx.conn.claims, id));
      ids = ids.filter((id) => visibleGuild(ctx.conn.claims, id));
    }
    const { data: found, nonexistent } = await store.get(data.type, s.guildId, ids);
    // A guild the caller is not in is reported as nonexistent: its existence is not revealed.
    ctx.reply(ApiEvent.POOL_RESPONSE, { type: data.type, guild_id: s.guildId ?? null, data: found, nonexistent: [...nonexistent, ...hidden], finished: true });
  });

  gateway.on(ApiEvent.POOL_ALL_REQUEST, async (ctx, data) => {
    if (!validatePoolAllRequest.check(data)) return ctx.error(ErrorCode.BAD_REQUEST, validatePoolAllRequest.explain(data));
    const s = scope(ctx, data.type, data.guild_id);
    if (!s) return;
    let cursor = data.cursor;
    let left = data.limit ?? Infinity;
    for (;;) {
      const page = await store.page(data.type, s.guildId, cursor, Math.min(POOL_CHUNK, left));
      // The connection left (or moved) meanwhile: stop streaming to nobody.
      if (ctx.rooms.get(ctx.conn.id) !== ctx.conn) return;
      const entities = data.type === 'guild' ? page.data.filter((e) => visibleGuild(ctx.conn.claims, e.id)) : page.data;
      cursor = page.cursor;
      left -= page.data.length;
      // Finished at the end of the pool, or at `limit` (then `cursor` resumes where it stopped).
      const finished = cursor === undefined || left <= 0;
      ctx.reply(ApiEvent.POOL_RESPONSE, { type: data.type, guild_id: s.guildId ?? null, data: entities, nonexistent: [], finished, cursor: cursor ?? null });
      if (finished) return;
    }
  });

  gateway.on(ApiEvent.POOL_SEARCH_REQUEST, async (ctx, data) => {
    if (!validatePoolSearchRequest.check(data)) return ctx.error(ErrorCode.BAD_REQUEST, validatePoolSearchRequest.explain(data));
    const s = scope(ctx, data.type, data.guild_id);
    if (!s) return;
    if (!s.guildId) return ctx.error(ErrorCode.BAD_REQUEST, `pool ${data.type} is not searchable by guild`);
    const found = await store.search(data.type, s.guildId, data.query, data.limit ?? SEARCH_DEFAULT_LIMIT);
    ctx.reply(ApiEvent.POOL_RESPONSE, { type: data.type, guild_id: s.guildId, data: found, nonexistent: [], finished: true });
  });
}
