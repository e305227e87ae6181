import {
  ApiEvent,
  ErrorCode,
  GUILD_POOLS,
  inGuild,
  isSnowflake,
  POOL_REQUEST_MAX_IDS,
  validatePoolAllRequest,
  validatePoolRequest,
  validatePoolSearchRequest,
  type ErrorCodeValue,
  type PoolAllRequest,
  type PoolResponse,
  type PoolType,
  type Validator,
} from '@gateway/protocol';
import { compareStrings, decodeCursor, encodeCursor, type Entity, type EntityStore } from '../store/store.js';
import type { Context, Gateway } from './gateway.js';
import { GuildView } from './guild-pool.js';

/** Entities (or ids) per `pool_response` chunk: bounded frames, steady memory. */
export const POOL_CHUNK = 500;
const SEARCH_DEFAULT_LIMIT = 20;

/** What a request named, read leniently, for the final chunk of a refusal. */
interface Asked {
  type: string;
  guildId: string | null;
  ids: string[];
}

/**
 * The `type` (and `ids` of a pool_request) of a request, even an invalid one; undefined when
 * they cannot be read: then only the `error` frame answers.
 */
function asked(event: string, data: unknown): Asked | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const d = data as Record<string, unknown>;
  if (typeof d.type !== 'string' || d.type.length > 64) return undefined;
  let ids: string[] = [];
  if (event === ApiEvent.POOL_REQUEST) {
    if (!Array.isArray(d.ids)) return undefined;
    ids = d.ids.filter((id): id is string => typeof id === 'string' && id.length <= 64).slice(0, POOL_REQUEST_MAX_IDS);
  }
  return { type: d.type, guildId: isSnowflake(d.guild_id) ? d.guild_id : null, ids };
}

type Refuse = (code: ErrorCodeValue, message: string) => void;

/**
 * Global pools a guest (minted or tokenless: anyone) may not read, per request kind: `user`
 * holds real users' names and avatars; streamed or searched, `guild` has nothing a guest could
 * see. A guest's `pool_request` for guilds by id stays open (it sees only its token's guilds).
 */
const GUEST_REFUSED: Readonly<Record<string, ReadonlySet<PoolType>>> = {
  [ApiEvent.POOL_REQUEST]: new Set(['user']),
  [ApiEvent.POOL_ALL_REQUEST]: new Set(['user', 'guild']),
  [ApiEvent.POOL_SEARCH_REQUEST]: new Set(['user', 'guild']),
};

/**
 * Registers one pool request kind so that every request ends with one `finished` chunk: a
 * refusal (`refuse`, or an invalid request) and a failure (the store threw) send the `error`
 * frame, then `{data: [], nonexistent: <asked ids>, finished: true, error: <code>}`.
 */
function poolRequest<T extends { type: PoolType }>(gateway: Gateway, event: string, validator: Validator<T>, run: (ctx: Context, req: T, refuse: Refuse) => Promise<void>): void {
  gateway.on(event, async (ctx, data) => {
    const a = asked(event, data);
    const finish = (code: ErrorCodeValue) => {
      if (!a) return;
      const last: PoolResponse = { type: a.type, guild_id: a.guildId, data: [], nonexistent: a.ids, finished: true, error: code };
      ctx.reply(ApiEvent.POOL_RESPONSE, last);
    };
    const refuse: Refuse = (code, message) => {
      ctx.error(code, message);
      finish(code);
    };
    if (!validator.check(data)) return refuse(ErrorCode.BAD_REQUEST, validator.explain(data));
    if (ctx.conn.guest && GUEST_REFUSED[event]?.has(data.type)) return refuse(ErrorCode.FORBIDDEN, `pool ${data.type} is not open to guests`);
    try {
      await run(ctx, data, refuse);
    } catch (err) {
      finish(ctx.fail(err));
    }
  });
}

/**
 * The guild a pool request may read (undefined for global pools), or false after a refusal.
 * Guild pools need `guild_id` and the guild in the token; the `guild` pool is filtered per
 * caller (GuildView).
 */
function scope(ctx: Context, type: PoolType, guildId: string | undefined, refuse: Refuse): string | undefined | false {
  if (!GUILD_POOLS.has(type)) return undefined;
  if (guildId === undefined) {
    refuse(ErrorCode.BAD_REQUEST, `pool ${type} needs guild_id`);
    return false;
  }
  if (!inGuild(ctx.conn.claims, guildId)) {
    refuse(ErrorCode.FORBIDDEN, `guild ${guildId} is not in your token`);
    return false;
  }
  return guildId;
}

/** The connection left (or moved) while the store answered: stop streaming to nobody. */
const gone = (ctx: Context) => ctx.rooms.get(ctx.conn.id) !== ctx.conn;

/**
 * `pool_all_request` on the `guild` pool for a caller without `admin`: its visible ids are
 * looked up (POOL_CHUNK per get) rather than the whole pool walked and filtered, so the cost
 * and the chunks follow what the caller may see, not how many guilds are stored. Same stream
 * as a walk: stored guilds in page order, resumable by the same cursor, `limit` counting them;
 * the listed guilds the bot is not in come last.
 */
async function streamVisibleGuilds(ctx: Context, store: EntityStore, view: GuildView, req: PoolAllRequest): Promise<void> {
  const after = req.cursor === undefined ? undefined : decodeCursor(req.cursor);
  const ids = after === undefined ? view.ids() : view.ids().filter((id) => compareStrings(id, after) > 0);
  let left = req.limit ?? Infinity;
  for (let at = 0; ; at += POOL_CHUNK) {
    const { data: found } = await store.get('guild', undefined, ids.slice(at, at + POOL_CHUNK));
    if (gone(ctx)) return;
    const data = found.slice(0, left).map((g) => view.present(g));
    left -= data.length;
    const cut = data.length < found.length;
    const end = !cut && at + POOL_CHUNK >= ids.length;
    // Each chunk's cursor resumes after what it covered: the last guild sent when `limit` cut
    // this chunk, else the last id looked up (the ones between were not stored).
    const cursor = end ? undefined : encodeCursor(cut ? data.at(-1)!.id : ids[at + POOL_CHUNK - 1]!);
    const finished = end || left <= 0;
    if (end) data.push(...(await view.unstored(store)));
    const chunk: PoolResponse = { type: 'guild', guild_id: null, data, nonexistent: [], finished, cursor: cursor ?? null };
    ctx.reply(ApiEvent.POOL_RESPONSE, chunk);
    if (finished) return;
  }
}

/**
 * `pool_request` (by ids, in chunks of POOL_CHUNK ids), `pool_all_request` (streamed,
 * resumable by cursor) and `pool_search_request` (prefix match on name, username, nick and
 * nickname): the seed's three-step member search is one of each.
 */
export function registerPools(gateway: Gateway, store: EntityStore): void {
  poolRequest(gateway, ApiEvent.POOL_REQUEST, validatePoolRequest, async (ctx, req, refuse) => {
    const guildId = scope(ctx, req.type, req.guild_id, refuse);
    if (guildId === false) return;
    const view = req.type === 'guild' ? await GuildView.of(store, ctx.conn.claims) : undefined;
    for (let at = 0; at === 0 || at < req.ids.length; at += POOL_CHUNK) {
      const ids = req.ids.slice(at, at + POOL_CHUNK);
      // A guild the caller may not see is reported as nonexistent: its existence is not revealed.
      const asked = view ? ids.filter((id) => view.visible(id)) : ids;
      const { data: found, nonexistent } = await store.get(req.type, guildId, asked);
      if (at > 0 && gone(ctx)) return;
      let data: Entity[] = found;
      let missing = nonexistent;
      if (view) {
        data = found.map((g) => view.present(g));
        missing = [];
        for (const id of nonexistent) {
          const listed = view.absent(id);
          if (listed) data.push(listed);
          else missing.push(id);
        }
        missing.push(...ids.filter((id) => !view.visible(id)));
      }
      const finished = at + POOL_CHUNK >= req.ids.length;
      const chunk: PoolResponse = { type: req.type, guild_id: guildId ?? null, data, nonexistent: missing, finished };
      ctx.reply(ApiEvent.POOL_RESPONSE, chunk);
    }
  });

  poolRequest(gateway, ApiEvent.POOL_ALL_REQUEST, validatePoolAllRequest, async (ctx, req, refuse) => {
    const guildId = scope(ctx, req.type, req.guild_id, refuse);
    if (guildId === false) return;
    const view = req.type === 'guild' ? await GuildView.of(store, ctx.conn.claims) : undefined;
    if (view && !view.seesAll) return streamVisibleGuilds(ctx, store, view, req);
    let cursor = req.cursor;
    let left = req.limit ?? Infinity;
    for (;;) {
      const page = await store.page(req.type, guildId, cursor, Math.min(POOL_CHUNK, left));
      if (gone(ctx)) return;
      const data = view ? page.data.map((e) => view.present(e)) : page.data;
      cursor = page.cursor;
      left -= page.data.length;
      // The user's guilds the bot is not in come with the end of the stored ones (not counted in `limit`).
      if (view && cursor === undefined) data.push(...(await view.unstored(store)));
      // Finished at the end of the pool, or at `limit` (then `cursor` resumes where it stopped).
      const finished = cursor === undefined || left <= 0;
      const chunk: PoolResponse = { type: req.type, guild_id: guildId ?? null, data, nonexistent: [], finished, cursor: cursor ?? null };
      ctx.reply(ApiEvent.POOL_RESPONSE, chunk);
      if (finished) return;
    }
  });

  poolRequest(gateway, ApiEvent.POOL_SEARCH_REQUEST, validatePoolSearchRequest, async (ctx, req, refuse) => {
    const guildId = scope(ctx, req.type, req.guild_id, refuse);
    if (guildId === false) return;
    if (!guildId) return refuse(ErrorCode.BAD_REQUEST, `pool ${req.type} is not searchable by guild`);
    const found = await store.search(req.type, guildId, req.query, req.limit ?? SEARCH_DEFAULT_LIMIT);
    const chunk: PoolResponse = { type: req.type, guild_id: guildId, data: found, nonexistent: [], finished: true };
    ctx.reply(ApiEvent.POOL_RESPONSE, chunk);
  });
}
