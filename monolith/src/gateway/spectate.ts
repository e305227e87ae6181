import {
  ApiEvent,
  ErrorCode,
  Permission,
  can,
  guildChannel,
  guildLogsChannel,
  guildLogsStream,
  guildPrivateLogsChannel,
  guildStream,
  inGuild,
  validateSpectateRequest,
  type TokenClaims,
} from '@gateway/protocol';
import type { Hub } from '../hub/hub.js';
import type { Recovery } from '../hub/recovery.js';
import type { Channels } from '../rooms/channels.js';
import type { Conn, Rooms } from '../rooms/rooms.js';
import type { Gateway } from './gateway.js';
import type { Admission } from './admission.js';

interface Spectation {
  guildId: string;
  /** Streams held in the hub: the guild's, and its logs' when log viewing was asked and allowed. */
  streams: string[];
  channels: string[];
}

/** The channels `claims` allow for a spectation of `guildId` (logs as requested). */
function allowed(claims: TokenClaims, guildId: string, logs: boolean): string[] {
  if (!inGuild(claims, guildId)) return [];
  const out = [guildChannel(guildId)];
  if (logs && can(claims, guildId, Permission.VIEW_PUBLIC_LOGS)) {
    out.push(guildLogsChannel(guildId));
    if (can(claims, guildId, Permission.VIEW_PRIVATE_LOGS)) out.push(guildPrivateLogsChannel(guildId));
  }
  return out;
}

/**
 * `spectate {guild_id, include_logs, since?}`: one guild per connection; switching releases the
 * old streams and channels first, leaving (or disconnecting) releases them. With `since` the
 * missed publications of each stream are replayed after the reply and before live ones
 * (DESIGN §10: the channels are joined only after the replay).
 */
export function registerSpectate(gateway: Gateway, rooms: Rooms, channels: Channels, hub: Hub, admission: Admission): void {
  const watching = new Map<string, Spectation>();
  /** Bumped per spectate of a connection: only the newest one joins its channels. */
  const seq = new Map<string, number>();

  const stop = (conn: Conn) => {
    const current = watching.get(conn.id);
    if (!current) return;
    watching.delete(conn.id);
    for (const channel of current.channels) channels.unsubscribe(conn, channel);
    for (const stream of current.streams) hub.release(stream);
  };
  rooms.onLeave((conn) => {
    stop(conn);
    seq.delete(conn.id);
  });

  // A refresh (or same-subject elevation) that removes or lowers a guild's permissions drops the
  // channels the new token does not allow, at once, and tells the client what it lost.
  admission.onClaimsChanged((conn) => {
    const current = watching.get(conn.id);
    if (!current) return;
    const logsStream = guildLogsStream(current.guildId);
    const keep = allowed(conn.claims, current.guildId, current.streams.includes(logsStream));
    const lost = current.channels.filter((c) => !keep.includes(c));
    if (lost.length === 0) return;
    for (const channel of lost) channels.unsubscribe(conn, channel);
    const streams = keep.length === 0 ? [] : keep.includes(guildLogsChannel(current.guildId)) ? current.streams : [guildStream(current.guildId)];
    for (const stream of current.streams) if (!streams.includes(stream)) hub.release(stream);
    if (keep.length === 0) watching.delete(conn.id);
    else watching.set(conn.id, { guildId: current.guildId, streams, channels: keep });
    rooms.unicast(
      conn,
      JSON.stringify({ event: ApiEvent.SPECTATE_REVOKED, data: { guild_id: current.guildId, channels: lost, spectating: keep.length > 0, reason: 'permissions changed' } }),
    );
  });

  gateway.on(ApiEvent.SPECTATE, async (ctx, data) => {
    if (!validateSpectateRequest.check(data)) return ctx.error(ErrorCode.BAD_REQUEST, validateSpectateRequest.explain(data));
    const conn = ctx.conn;
    const { claims } = conn;
    const guildId = data.guild_id;
    const logs = data.include_logs === true;
    if (!inGuild(claims, guildId)) return ctx.error(ErrorCode.FORBIDDEN, `guild ${guildId} is not in your token`);
    if (logs && !can(claims, guildId, Permission.VIEW_PUBLIC_LOGS)) {
      return ctx.error(ErrorCode.FORBIDDEN, 'viewing logs needs VIEW_PUBLIC_LOGS');
    }
    const wanted = allowed(claims, guildId, logs);
    const streams = logs ? [guildStream(guildId), guildLogsStream(guildId)] : [guildStream(guildId)];

    // Acquire before releasing, so switching within one guild does not churn its subscriptions.
    for (const stream of streams) hub.acquire(stream);
    // The same guild again: its channels go now, so no live push overtakes the replay. Another
    // guild: the current spectation stays until the new one is ready, and stays if it fails.
    if (watching.get(conn.id)?.guildId === guildId) stop(conn);
    const mine = (seq.get(conn.id) ?? 0) + 1;
    seq.set(conn.id, mine);
    const give = () => {
      for (const stream of streams) hub.release(stream);
    };
    let recoveries: Recovery[];
    try {
      recoveries = await Promise.all(streams.map((stream) => hub.beginRecovery(stream, data.since?.[stream])));
    } catch (err) {
      give();
      return ctx.error(ErrorCode.UNAVAILABLE, `cannot read history now: ${(err as Error).message}`);
    }
    // The replay waits for the link to take it (a storm's replays are paced; see LinkPeer.drained).
    await conn.link.drained?.();
    // The connection left, or spectated again meanwhile: this one joins nothing.
    if (rooms.get(conn.id) !== conn || seq.get(conn.id) !== mine) {
      for (const r of recoveries) r.abandon();
      give();
      return;
    }
    stop(conn);
    const positions: Record<string, unknown> = {};
    const recovered: Record<string, boolean> = {};
    for (const r of recoveries) {
      positions[r.read.stream] = r.read.position;
      if (data.since?.[r.read.stream] !== undefined) recovered[r.read.stream] = r.read.recovered;
    }
    ctx.reply(ApiEvent.SPECTATE, {
      guild_id: guildId,
      include_logs: logs,
      channels: wanted,
      streams,
      positions,
      ...(data.since ? { recovered } : {}),
    });
    const send = (push: string) => rooms.unicast(conn, push);
    for (const [i, r] of recoveries.entries()) {
      r.finish(send, (pub) => {
        const channel = hub.channelOf(streams[i]!, pub.data);
        return channel !== undefined && wanted.includes(channel);
      });
    }
    for (const channel of wanted) channels.subscribe(conn, channel);
    watching.set(conn.id, { guildId, streams, channels: wanted });
  });
}
