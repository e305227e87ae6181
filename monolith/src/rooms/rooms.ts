import { encodeWithMessage, type TokenClaims } from '@gateway/protocol';
import type { Log } from '@gateway/protocol/node';
import type { Bus, BusHandler } from '../bus/bus.js';
import type { EpochSource } from './epochs.js';

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
}

interface Room {
  readonly name: string;
  readonly members: Set<Conn>;
  /** Members per balancer link: a broadcast is one frame per link here, not one per member. */
  readonly links: Map<LinkPeer, number>;
  epoch: number | undefined;
  unloadTimer: NodeJS.Timeout | undefined;
  readonly onBus: BusHandler;
}

export interface RoomsDeps {
  epochs: EpochSource;
  bus: Bus;
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
 * Bus topic carrying broadcasts for a room, whichever monolith owns it: `room:<room>`, except a
 * user's private room, whose topic is `user:<id>` (DESIGN §5: user pushes reach every socket of
 * the user, and all of them share the room `user:<id>`).
 */
export function roomTopic(room: string): string {
  return room.startsWith('user:') ? room : `room:${room}`;
}

/**
 * Room join/leave state on one monolith: which connections are in which room through which
 * balancer link, room load/unload with ownership epochs, and per-link broadcast fan-out.
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
    const conn: Conn = { id, room, link, tokenTail: tokenTail(token), claims, subject, guest };
    this.conns.set(id, conn);
    const r = this.rooms.get(room) ?? this.load(room);
    clearTimeout(r.unloadTimer);
    r.unloadTimer = undefined;
    r.members.add(conn);
    r.links.set(link, (r.links.get(link) ?? 0) + 1);
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
    const n = (r.links.get(conn.link) ?? 1) - 1;
    if (n > 0) r.links.set(conn.link, n);
    else r.links.delete(conn.link);
    if (r.members.size === 0 && !r.unloadTimer) {
      r.unloadTimer = setTimeout(() => this.unload(r, 'empty'), this.deps.graceMs);
      r.unloadTimer.unref();
    }
  }

  get(id: string): Conn | undefined {
    return this.conns.get(id);
  }

  /**
   * Sends the owner's `welcome`: flagged `admit`, so the balancer subscribes the socket to its
   * room's topic only now, once the owner has admitted it (no push before admission).
   */
  admit(conn: Conn, welcomeJson: string): void {
    conn.link.send(encodeWithMessage({ type: 'unicast', room: conn.room, id: conn.id, admit: true }, welcomeJson));
  }

  /** Sends serialized client JSON to one connection. */
  unicast(conn: Conn, messageJson: string): void {
    conn.link.send(encodeWithMessage({ type: 'unicast', room: conn.room, id: conn.id }, messageJson));
  }

  /** Sends serialized client JSON to every member of a room, one frame per balancer link. */
  broadcast(room: string, messageJson: string): number {
    const r = this.rooms.get(room);
    if (!r || r.links.size === 0) return 0;
    const frame = encodeWithMessage({ type: 'broadcast', room }, messageJson);
    for (const link of r.links.keys()) link.send(frame);
    return r.links.size;
  }

  /** Sends a link frame to every balancer. */
  toAllLinks(frame: string): void {
    for (const link of this.links) link.send(frame);
  }

  gossipFrame(): string {
    const rooms: Array<{ room: string; epoch: number }> = [];
    for (const r of this.rooms.values()) if (r.epoch !== undefined) rooms.push({ room: r.name, epoch: r.epoch });
    return JSON.stringify({ type: 'gossip', rooms });
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

  /** Unloads every room (shutdown). */
  close(): void {
    for (const r of [...this.rooms.values()]) this.unload(r, 'shutdown');
  }

  private load(name: string): Room {
    const r: Room = {
      name,
      members: new Set(),
      links: new Map(),
      epoch: undefined,
      unloadTimer: undefined,
      onBus: (payload) => this.broadcast(name, payload),
    };
    this.rooms.set(name, r);
    this.deps.bus.subscribe(roomTopic(name), r.onBus).catch((err: Error) => {
      this.deps.log.warn('room topic subscribe failed; the bus subscribes it again on reconnect', { room: name, err: err.message });
    });
    this.announce(r, 0);
    return r;
  }

  /** Takes an epoch and announces `loaded`; retried with back-off while Redis is unreachable. */
  private announce(r: Room, attempt: number): void {
    this.deps.epochs.next(r.name).then(
      (epoch) => {
        if (this.rooms.get(r.name) !== r || this.draining) return;
        r.epoch = epoch;
        this.toAllLinks(JSON.stringify({ type: 'loaded', room: r.name, epoch }));
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
    this.deps.bus.unsubscribe(roomTopic(r.name), r.onBus).catch(() => {});
    if (r.epoch !== undefined) this.toAllLinks(JSON.stringify({ type: 'unloaded', room: r.name, reason }));
  }
}
