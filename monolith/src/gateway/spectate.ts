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

interface Spectation {
  guildId: string;
  logs: boolean;
  channels: string[];
}

/**
 * `spectate {guild_id, include_logs}`: one guild per connection; switching unsubscribes the old
 * channels first, leaving (or disconnecting) releases them.
 */
export function registerSpectate(gateway: Gateway, rooms: Rooms, channels: Channels, topics: GuildTopics): void {
  const watching = new Map<string, Spectation>();

  const stop = (conn: Conn) => {
    const current = watching.get(conn.id);
    if (!current) return;
    watching.delete(conn.id);
    for (const channel of current.channels) channels.unsubscribe(conn, channel);
    topics.release(current.guildId, current.logs);
  };
  rooms.onLeave(stop);

  gateway.on(ApiEvent.SPECTATE, (ctx, data) => {
    if (!validateSpectateRequest.check(data)) return ctx.error(ErrorCode.BAD_REQUEST, validateSpectateRequest.explain(data));
    const { claims } = ctx.conn;
    const guildId = data.guild_id;
    const logs = data.include_logs === true;
    if (!inGuild(claims, guildId)) return ctx.error(ErrorCode.FORBIDDEN, `guild ${guildId} is not in your token`);
    if (logs && !can(claims, guildId, Permission.VIEW_PUBLIC_LOGS)) {
      return ctx.error(ErrorCode.FORBIDDEN, 'viewing logs needs VIEW_PUBLIC_LOGS');
    }
    const wanted = [guildChannel(guildId)];
    if (logs) wanted.push(guildLogsChannel(guildId));
    if (logs && can(claims, guildId, Permission.VIEW_PRIVATE_LOGS)) wanted.push(guildPrivateLogsChannel(guildId));

    // Acquire before releasing, so switching within one guild does not churn its bus topics.
    topics.acquire(guildId, logs);
    stop(ctx.conn);
    for (const channel of wanted) channels.subscribe(ctx.conn, channel);
    watching.set(ctx.conn.id, { guildId, logs, channels: wanted });
    ctx.reply(ApiEvent.SPECTATE, { guild_id: guildId, include_logs: logs, channels: wanted });
  });
}
