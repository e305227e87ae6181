import { encodeUnicast, roomStream, type TokenClaims } from '@gateway/protocol';
import type { LinkPeer } from './links.js';

/** The streams a loaded room needs (the hub's acquire/release). */
export interface StreamRefs {
  acquire(stream: string): void;
  release(stream: string): void;
}

/** One client connection, as known to the monolith that owns its room. */
export interface Conn {
  readonly id: string;
  readonly room: string;
  readonly link: LinkPeer;
  /**
   * The signature tail of the token last seen, to notice a refresh without keeping the whole
   * token per connection (an HMAC/signature tail differs between any two tokens).
   */
  tokenTail: string;
  claims: TokenClaims;
  subject: string;
  guest: boolean;
  /** True once the connection joined its room's channel (after its recovery, if any). */
  inRoomChannel: boolean;
}

interface Room {
  readonly name: string;
  readonly members: Set<Conn>;
  unloadTimer: NodeJS.Timeout | undefined;
}

/** Who hears that a room is loaded here and unloaded again (Ownership: epochs, announcements). */
export interface RoomClaims {
  loaded(room: string): void;
  unloaded(room: string, reason: string): void;
}

export interface RoomsDeps {
  ownership: RoomClaims;
  /** A loaded room holds its stream (`room:<room>`, or `user:<id>` for a user's own room). */
  streams: StreamRefs;
  /** How long an empty room stays loaded. */
  graceMs: number;
}

const TAIL = 24;

/** A copy (not a slice, which would keep the whole token alive) of the token's last characters. */
export function tokenTail(token: string): string {
  return Buffer.from(token.slice(-TAIL), 'latin1').toString('latin1');
}

/** True when `token` is the one `conn` last carried. No allocation: runs per message. */
export function sameToken(conn: Conn, token: string): boolean {
  return token.endsWith(conn.tokenTail);
}

/**
 * Room membership on one monolith: which connections are in which room through which balancer
 * link, and room load/unload (a room is loaded while it has members, and a grace period after).
 * A loaded room holds its stream in the hub; its pushes reach members through the room's
 * channel (the hub's fan-out). Ownership announces the loads and unloads to the balancers.
 */
export class Rooms {
  private readonly conns = new Map<string, Conn>();
  private readonly rooms = new Map<string, Room>();
  /** Called for every connection that leaves, before it is forgotten (spectate cleanup). */
  private readonly leaveListeners: Array<(conn: Conn) => void> = [];

  constructor(private readonly deps: RoomsDeps) {}

  onLeave(listener: (conn: Conn) => void): void {
    this.leaveListeners.push(listener);
  }

  /** A balancer link is gone: every connection that came through it leaves (no ghosts). */
  leaveLink(link: LinkPeer): number {
    let left = 0;
    for (const conn of this.conns.values()) {
      if (conn.link === link) {
        this.leave(conn.id);
        left++;
      }
    }
    return left;
  }

  /** Adds a connection (replacing an earlier one with the same id) and loads its room if new. */
  join(link: LinkPeer, id: string, room: string, token: string, claims: TokenClaims, subject: string, guest: boolean): Conn {
    if (this.conns.has(id)) this.leave(id);
    const r = this.rooms.get(room) ?? this.load(room);
    // The room's own name, not the join frame's copy: one string per room, not per connection.
    const conn: Conn = { id, room: r.name, link, tokenTail: tokenTail(token), claims, subject, guest, inRoomChannel: false };
    this.conns.set(id, conn);
    clearTimeout(r.unloadTimer);
    r.unloadTimer = undefined;
    r.members.add(conn);
    return conn;
  }

  /** Removes a connection; idempotent. An empty room unloads after the grace period. */
  leave(id: string): void {
    const conn = this.conns.get(id);
    if (!conn) return;
    for (const listener of this.leaveListeners) listener(conn);
    this.conns.delete(id);
    const r = this.rooms.get(conn.room);
    if (!r) return;
    r.members.delete(conn);
    if (r.members.size === 0 && !r.unloadTimer) {
      r.unloadTimer = setTimeout(() => this.unload(r, 'empty'), this.deps.graceMs);
      r.unloadTimer.unref();
    }
  }

  get(id: string): Conn | undefined {
    return this.conns.get(id);
  }

  /** Sends serialized client JSON to one connection. */
  unicast(conn: Conn, messageJson: string): void {
    conn.link.send(encodeUnicast(conn.room, conn.id, messageJson));
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  get roomCount(): number {
    return this.rooms.size;
  }

  members(room: string): number {
    return this.rooms.get(room)?.members.size ?? 0;
  }

  /**
   * Shutdown: every connection leaves (its listeners run: spectate and session streams release
   * what they hold) and every room unloads, members or not; nothing is left loaded or held.
   */
  close(): void {
    for (const id of [...this.conns.keys()]) this.leave(id);
    for (const r of [...this.rooms.values()]) this.unload(r, 'shutdown');
  }

  private load(name: string): Room {
    const r: Room = {
      name,
      members: new Set(),
      unloadTimer: undefined,
    };
    this.rooms.set(name, r);
    this.deps.streams.acquire(roomStream(name));
    this.deps.ownership.loaded(name);
    return r;
  }

  private unload(r: Room, reason: string): void {
    if (this.rooms.get(r.name) !== r || r.members.size > 0) return;
    clearTimeout(r.unloadTimer);
    this.rooms.delete(r.name);
    this.deps.streams.release(roomStream(r.name));
    this.deps.ownership.unloaded(r.name, reason);
  }
}
