import {
  ApiEvent,
  ErrorCode,
  Permission,
  can,
  guildPrivateLogsChannel,
  inGuild,
  parseGuildStream,
  roomStream,
  validateHistoryRequest,
  type TokenClaims,
} from '@gateway/protocol';
import type { Hub } from '../hub/hub.js';
import type { Conn } from '../rooms/rooms.js';
import type { Gateway } from './gateway.js';

const DEFAULT_LIMIT = 100;

/**
 * Who may read a stream's history, as who may receive it live: the session's own stream; a
 * guild's pool stream with the guild in the token; its log stream with VIEW_PUBLIC_LOGS, private
 * entries only with VIEW_PRIVATE_LOGS. Returns the filter for entries, or an error text.
 */
function access(conn: Conn, claims: TokenClaims, stream: string, hub: Hub): ((data: string) => boolean) | string {
  if (stream === roomStream(conn.room)) return () => true;
  const guild = parseGuildStream(stream);
  if (!guild) return `stream ${stream} is not yours to read`;
  const { guildId } = guild;
  if (!inGuild(claims, guildId)) return `guild ${guildId} is not in your token`;
  if (!guild.logs) return () => true;
  if (!can(claims, guildId, Permission.VIEW_PUBLIC_LOGS)) return 'reading logs needs VIEW_PUBLIC_LOGS';
  if (can(claims, guildId, Permission.VIEW_PRIVATE_LOGS)) return () => true;
  const privateChannel = guildPrivateLogsChannel(guildId);
  return (data) => hub.channelOf(stream, data) !== privateChannel;
}

/**
 * `history {stream, since?, limit?}` → `{stream, position, publications: [{offset, time,
 * message}]}`: the stored publications after `since` (the oldest kept when absent; the latest
 * `limit` when `since` is absent), so a view opens with its latest entries. With a `since` of
 * another epoch the history starts over: `position.epoch` tells the client.
 */
export function registerHistory(gateway: Gateway, hub: Hub): void {
  gateway.on(ApiEvent.HISTORY, async (ctx, data) => {
    if (!validateHistoryRequest.check(data)) return ctx.error(ErrorCode.BAD_REQUEST, validateHistoryRequest.explain(data));
    const filter = access(ctx.conn, ctx.conn.claims, data.stream, hub);
    if (typeof filter === 'string') return ctx.error(ErrorCode.FORBIDDEN, filter);
    const limit = data.limit ?? DEFAULT_LIMIT;
    let result;
    try {
      const head = await hub.history(data.stream, undefined, 0);
      const sameEpoch = data.since !== undefined && data.since.epoch === head.position.epoch;
      // Without a usable `since`: the latest `limit` publications.
      const since = sameEpoch ? data.since!.offset : Math.max(0, head.position.offset - limit);
      result = await hub.history(data.stream, since, limit);
    } catch (err) {
      return ctx.error(ErrorCode.UNAVAILABLE, `cannot read history now: ${(err as Error).message}`);
    }
    // Spliced, not re-serialized: each stored message is already JSON.
    const items = result.publications.filter((p) => filter(p.data)).map((p) => `{"offset":${p.offset},"time":${p.time},"message":${p.data}}`);
    ctx.replyRaw(
      ApiEvent.HISTORY,
      `{"stream":${JSON.stringify(data.stream)},"position":${JSON.stringify(result.position)},"publications":[${items.join(',')}]}`,
    );
  });
}
