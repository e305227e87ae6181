import {
  ApiEvent,
  ErrorCode,
  Permission,
  can,
  guildChannel,
  guildLogsChannel,
  guildPrivateLogsChannel,
  inGuild,
  validateSpectateRequest,
} from '@gateway/protocol';
import type { Channels } from '../rooms/channels.js';
import type { Conn, Rooms } from '../rooms/rooms.js';
import type { Gateway } from './gateway.js';
import type { GuildTopics } from './guild-topics.js';
import type { Admission } from './admission.js';

interface Spectation {
  guildId: string;
  logs: boolean;
  channels: string[];
}

/**
 * `spectate {guild_id, include_logs}`: one guild per connection; switching unsubscribes the old
 * channels first, leaving (or disconnecting) releases them.
 */
export function registerSpectate(gateway: Gateway, rooms: Rooms, channels: Channels, topics: GuildTopics, admission: Admission): void {
  const watching = new Map<string, Spectation>();

  const stop = (conn: Conn) => {
    const current = watching.get(conn.id);
    if (!current) return;
    watching.delete(conn.id);
    for (const channel of current.channels) channels.unsubscribe(conn, channel);
    topics.release(current.guildId, current.logs);
  };
  rooms.onLeave(stop);

  /** The channels `claims` allow for a spectation of `guildId` (logs as requested). */
  const allowed = (claims: Conn['claims'], guildId: string, logs: boolean): string[] => {
    if (!inGuild(claims, guildId)) return [];
    const out = [guildChannel(guildId)];
    if (logs && can(claims, guildId, Permission.VIEW_PUBLIC_LOGS)) {
      out.push(guildLogsChannel(guildId));
      if (can(claims, guildId, Permission.VIEW_PRIVATE_LOGS)) out.push(guildPrivateLogsChannel(guildId));
    }
    return out;
  };

  // A refresh (or same-subject elevation) that removes or lowers a guild's permissions drops the
  // channels the new token does not allow, at once, and tells the client what it lost.
  admission.onClaimsChanged((conn) => {
    const current = watching.get(conn.id);
    if (!current) return;
    const keep = allowed(conn.claims, current.guildId, current.logs);
    const lost = current.channels.filter((c) => !keep.includes(c));
    if (lost.length === 0) return;
    for (const channel of lost) channels.unsubscribe(conn, channel);
    const logsKept = keep.includes(guildLogsChannel(current.guildId));
    if (keep.length === 0) {
      watching.delete(conn.id);
      topics.release(current.guildId, current.logs);
    } else {
      if (current.logs && !logsKept) {
        // Swap the logs reference for a plain one: the guild topic stays, its logs topic goes.
        topics.acquire(current.guildId, false);
        topics.release(current.guildId, true);
      }
      watching.set(conn.id, { guildId: current.guildId, logs: logsKept, channels: keep });
    }
    rooms.unicast(
      conn,
      JSON.stringify({ event: ApiEvent.SPECTATE_REVOKED, data: { guild_id: current.guildId, channels: lost, spectating: keep.length > 0, reason: 'permissions changed' } }),
    );
  });

  gateway.on(ApiEvent.SPECTATE, (ctx, data) => {
    if (!validateSpectateRequest.check(data)) return ctx.error(ErrorCode.BAD_REQUEST, validateSpectateRequest.explain(data));
    const { claims } = ctx.conn;
    const guildId = data.guild_id;
    const logs = data.include_logs === true;
    if (!inGuild(claims, guildId)) return ctx.error(ErrorCode.FORBIDDEN, `guild ${guildId} is not in your token`);
    if (logs && !can(claims, guildId, Permission.VIEW_PUBLIC_LOGS)) {
      return ctx.error(ErrorCode.FORBIDDEN, 'viewing logs needs VIEW_PUBLIC_LOGS');
    }
    const wanted = allowed(claims, guildId, logs);

    // Acquire before releasing, so switching within one guild does not churn its bus topics.
    topics.acquire(guildId, logs);
    stop(ctx.conn);
    for (const channel of wanted) channels.subscribe(ctx.conn, channel);
    watching.set(ctx.conn.id, { guildId, logs, channels: wanted });
    ctx.reply(ApiEvent.SPECTATE, { guild_id: guildId, include_logs: logs, channels: wanted });
  });
}
