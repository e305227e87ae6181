import { encodeWithMessage, roomStream, type TokenClaims, encodeM2B } from '@gateway/protocol';
import type { Log } from '@gateway/protocol/node';
import type { EpochSource } from '../coordination/coordination.js';

/** The streams a loaded room needs (the hub's acquire/release). */
export interface StreamRefs {
  acquire(stream: string): void;
  release(stream: string): void;
}

/** A balancer link as the room state sees it. `send` never throws. */
export interface LinkPeer {
  readonly id: string;
  send(frame: string): void;
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
  epoch: number | undefined;
  unloadTimer: NodeJS.Timeout | undefined;
}

export interface RoomsDeps {
  epochs: EpochSource;
  /** A loaded room holds its stream (`room:<room>`, or `user:<id>` for a user's own room). */
  streams: StreamRefs;
  /** How long an empty room stays loaded. */
  graceMs: number;
  log: Log;
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
 * Room join/leave state on one monolith: which connections are in which room through which
 * balancer link, and room load/unload with ownership epochs. A loaded room holds its stream in
 * the hub; its pushes reach members through the room's channel (the hub's fan-out).
 */
export class Rooms {
  private readonly conns = new Map<string, Conn>();
  private readonly rooms = new Map<string, Room>();
  private readonly links = new Set<LinkPeer>();
  /** Called for every connection that leaves, before it is forgotten (spectate cleanup). */
  private readonly leaveListeners: Array<(conn: Conn) => void> = [];
  /** Set while the monolith drains: rooms it still loads are not announced (no new claims). */
  draining = false;

  constructor(private readonly deps: RoomsDeps) {}

  onLeave(listener: (conn: Conn) => void): void {
    this.leaveListeners.push(listener);
  }

  addLink(link: LinkPeer): void {
    this.links.add(link);
    // A draining monolith makes no claims: a balancer linking now must not route rooms here.
    if (!this.draining) link.send(this.gossipFrame());
  }

  /** A balancer link is gone: every connection that came through it leaves (no ghosts). */
  dropLink(link: LinkPeer): number {
    this.links.delete(link);
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
    const conn: Conn = { id, room, link, tokenTail: tokenTail(token), claims, subject, guest, inRoomChannel: false };
    this.conns.set(id, conn);
    const r = this.rooms.get(room) ?? this.load(room);
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
    conn.link.send(encodeWithMessage({ type: 'unicast', room: conn.room, id: conn.id }, messageJson));
  }

  /** Sends a link frame to every balancer. */
  toAllLinks(frame: string): void {
    for (const link of this.links) link.send(frame);
  }

  gossipFrame(): string {
    const rooms: Array<{ room: string; epoch: number }> = [];
    for (const r of this.rooms.values()) if (r.epoch !== undefined) rooms.push({ room: r.name, epoch: r.epoch });
    return encodeM2B({ type: 'gossip', rooms });
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  get roomCount(): number {
    return this.rooms.size;
  }

  get linkCount(): number {
    return this.links.size;
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
      epoch: undefined,
      unloadTimer: undefined,
    };
    this.rooms.set(name, r);
    this.deps.streams.acquire(roomStream(name));
    this.announce(r, 0);
    return r;
  }

  /** Takes an epoch and announces `loaded`; retried with back-off while Redis is unreachable. */
  private announce(r: Room, attempt: number): void {
    this.deps.epochs.next(r.name).then(
      (epoch) => {
        if (this.rooms.get(r.name) !== r || this.draining) return;
        r.epoch = epoch;
        this.toAllLinks(encodeM2B({ type: 'loaded', room: r.name, epoch }));
      },
      (err: Error) => {
        if (this.rooms.get(r.name) !== r) return;
        if (attempt === 0) this.deps.log.warn('no epoch for room yet; routing stays by hashing, retrying', { room: r.name, err: err.message });
        setTimeout(() => this.announce(r, attempt + 1), Math.min(5000, 100 * 2 ** attempt)).unref();
      },
    );
  }

  private unload(r: Room, reason: string): void {
    if (this.rooms.get(r.name) !== r || r.members.size > 0) return;
    clearTimeout(r.unloadTimer);
    this.rooms.delete(r.name);
    this.deps.streams.release(roomStream(r.name));
    if (r.epoch !== undefined) this.toAllLinks(encodeM2B({ type: 'unloaded', room: r.name, reason }));
  }
}
