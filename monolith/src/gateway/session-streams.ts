import { ApiEvent, ErrorCode, roomStream, validateRecoverRequest, type Since, type StreamPosition } from '@gateway/protocol';
import type { Log } from '@gateway/server-kit';
import type { Hub } from '../hub/hub.js';
import type { Recovery } from '../hub/recovery.js';
import type { Channels } from '../rooms/channels.js';
import type { Conn, Rooms } from '../rooms/rooms.js';
import type { Gateway } from './gateway.js';

export interface SessionStreamsDeps {
  hub: Hub;
  rooms: Rooms;
  channels: Channels;
  /** After a failover re-join, how long to wait for the client's `recover` before joining live. */
  resyncSubscribeMs: number;
  log: Log;
}

/**
 * The stream bound to a session (its room's: `room:<room>`, or `user:<id>` for a user in its own
 * room) and its channel: joined only after the connection's recovery, so replay and live
 * delivery never overlap (DESIGN §10). On a fresh session the recovery runs before the welcome
 * leaves (the auth frame's `since`); after a failover re-join the new owner cannot know the
 * client's positions, so the channel waits for the client's `recover` (the SDK sends it on
 * `resync`), or `resyncSubscribeMs`, whichever comes first.
 */
export class SessionStreams {
  private readonly recovering = new Set<string>();

  constructor(private readonly deps: SessionStreamsDeps) {
    deps.rooms.onLeave((conn) => {
      if (conn.inRoomChannel) deps.channels.unsubscribe(conn, roomStream(conn.room));
      conn.inRoomChannel = false;
    });
  }

  /**
   * A connection was admitted: greets it (`welcome` built by `greet` with the session's streams
   * and, given `since`, what was recovered), replays what it missed, then joins its channel.
   */
  async admitted(conn: Conn, since: Since | undefined, rejoin: boolean, greet: (extra: Record<string, unknown>) => string): Promise<void> {
    const stream = roomStream(conn.room);
    if (rejoin) {
      this.deps.rooms.unicast(conn, greet({ streams: [stream] }));
      const timer = setTimeout(() => {
        if (this.deps.rooms.get(conn.id) === conn && !conn.inRoomChannel && !this.recovering.has(conn.id)) void this.recover(conn, undefined);
      }, this.deps.resyncSubscribeMs);
      timer.unref();
      return;
    }
    const position = since?.[stream];
    const recovery = await this.readPaced(conn, stream, position);
    if (recovery === 'gone') return;
    if (recovery === 'failed') {
      // No history now (the broker is away): the session still opens, live, and says so.
      this.deps.rooms.unicast(conn, greet({ streams: [stream], ...(position ? { recovered: { [stream]: false } } : {}) }));
      this.joinLive(conn, stream);
      return;
    }
    const recovered = position === undefined ? undefined : { [stream]: recovery.read.recovered };
    this.deps.rooms.unicast(conn, greet({ streams: [stream], positions: { [stream]: recovery.read.position }, ...(recovered ? { recovered } : {}) }));
    this.join(conn, stream, recovery);
  }

  /** `recover {since}`: the session's stream from the client's position. */
  register(gateway: Gateway): void {
    gateway.on(ApiEvent.RECOVER, async (ctx, data) => {
      if (!validateRecoverRequest.check(data)) return ctx.error(ErrorCode.BAD_REQUEST, validateRecoverRequest.explain(data));
      const conn = ctx.conn;
      if (this.recovering.has(conn.id)) return ctx.error(ErrorCode.RATE_LIMITED, 'a recovery is already running for this connection');
      const stream = roomStream(conn.room);
      const recovery = await this.recover(conn, data.since[stream], (read) =>
        ctx.reply(ApiEvent.RECOVER, { recovered: { [stream]: read.read.recovered }, positions: { [stream]: read.read.position } }),
      );
      if (!recovery) ctx.error(ErrorCode.UNAVAILABLE, 'cannot read history now; try again');
    });
  }

  /** Leaves the channel (if joined), recovers, replies through `before`, joins again. */
  private async recover(conn: Conn, since: StreamPosition | undefined, before?: (r: Recovery) => void): Promise<Recovery | undefined> {
    const stream = roomStream(conn.room);
    if (conn.inRoomChannel) {
      this.deps.channels.unsubscribe(conn, stream);
      conn.inRoomChannel = false;
    }
    const recovery = await this.readPaced(conn, stream, since);
    if (recovery === 'gone') return undefined;
    if (recovery === 'failed') {
      this.joinLive(conn, stream);
      return undefined;
    }
    before?.(recovery);
    this.join(conn, stream, recovery);
    return recovery;
  }

  /**
   * Reads, then waits for the link (paced); the connection counts as recovering throughout, so
   * neither the resync fallback nor a second `recover` starts another replay meanwhile. The
   * caller joins in the continuation, before any timer can run.
   */
  private async readPaced(conn: Conn, stream: string, since: StreamPosition | undefined): Promise<Recovery | 'failed' | 'gone'> {
    this.recovering.add(conn.id);
    try {
      return await this.paced(conn, await this.read(conn, stream, since));
    } finally {
      this.recovering.delete(conn.id);
    }
  }

  private async read(conn: Conn, stream: string, since: StreamPosition | undefined): Promise<Recovery | 'failed' | 'gone'> {
    try {
      const recovery = await this.deps.hub.beginRecovery(stream, since);
      if (this.deps.rooms.get(conn.id) !== conn) {
        recovery.abandon();
        return 'gone';
      }
      return recovery;
    } catch (err) {
      this.deps.log.warn('session stream recovery failed; joining live', { conn: conn.id, stream, err: (err as Error).message });
      return this.deps.rooms.get(conn.id) === conn ? 'failed' : 'gone';
    }
  }

  /**
   * Waits until the connection's link can take the replay (LinkPeer.drained: a reconnect storm's
   * replays go one after another as the balancer reads them). Live publications keep being
   * buffered for the recovery meanwhile; the caller replays and subscribes right after.
   */
  private async paced(conn: Conn, recovery: Recovery | 'failed' | 'gone'): Promise<Recovery | 'failed' | 'gone'> {
    if (typeof recovery === 'string' || !conn.link.drained) return recovery;
    await conn.link.drained();
    if (this.deps.rooms.get(conn.id) === conn) return recovery;
    recovery.abandon();
    return 'gone';
  }

  private join(conn: Conn, stream: string, recovery: Recovery): void {
    recovery.finish((push) => this.deps.rooms.unicast(conn, push));
    this.joinLive(conn, stream);
  }

  private joinLive(conn: Conn, stream: string): void {
    if (conn.inRoomChannel) return;
    this.deps.channels.subscribe(conn, stream);
    conn.inRoomChannel = true;
  }
}
