import { CloseCode, CloseReason, type MessageFrame } from '@gateway/protocol';
import type { Log } from '@gateway/protocol/node';
import { sameToken, tokenTail, type Conn, type LinkPeer, type Rooms } from '../rooms/rooms.js';
import type { Gateway } from './gateway.js';
import { identify, mayEnter, RESYNC, welcome, type Identity } from './session.js';

export interface AdmissionDeps {
  rooms: Rooms;
  gateway: Gateway;
  monolithId: string;
  /** True the first time a key is seen within its TTL (single-use websocket tokens). */
  consumeOnce(key: string, ttlSeconds: number): Promise<boolean>;
  log: Log;
}

/** A websocket token (`use: "ws"`) opens one session: its `jti` is consumed on first use. */
const WS_TOKEN_KEY_TTL_S = 120;

/**
 * Who may enter which room, and the per-connection order of what follows: `join` (welcome,
 * resync after a move), token refresh carried by envelopes, and single-use websocket tokens,
 * whose consumption is asynchronous: the connection's frames wait in order until it is done.
 */
export class Admission {
  /** Frames of connections whose websocket token is being consumed. */
  private readonly waiting = new Map<string, MessageFrame[]>();

  constructor(private readonly deps: AdmissionDeps) {}

  join(peer: LinkPeer, id: string, room: string, token: string, rejoin: boolean, requestId?: number | string): Conn | undefined {
    const who = identify(token);
    if (!who) return this.kick(peer, id, 'TOKEN_INVALID');
    if (!mayEnter(room, who)) return this.kick(peer, id, 'FORBIDDEN_ROOM');
    const conn = this.deps.rooms.join(peer, id, room, token, who.claims, who.subject, who.guest);
    const greet = () => {
      this.deps.rooms.unicast(conn, welcome(conn, this.deps.monolithId, requestId));
      if (rejoin) this.deps.rooms.unicast(conn, RESYNC);
    };
    // A connection moved here after a failover re-presents a token already used: not a reuse.
    if (rejoin || who.claims.use !== 'ws') {
      greet();
      return conn;
    }
    this.waiting.set(id, []);
    this.consume(conn, who).then((ok) => {
      const queued = this.waiting.get(id) ?? [];
      this.waiting.delete(id);
      if (this.deps.rooms.get(id) !== conn) return;
      if (!ok) return;
      greet();
      for (const frame of queued) this.message(peer, frame);
    });
    return conn;
  }

  message(peer: LinkPeer, frame: MessageFrame): void {
    // Per message: skip the lookup in the common case of no token being consumed.
    const queue = this.waiting.size === 0 ? undefined : this.waiting.get(frame.id);
    if (queue) {
      queue.push(frame);
      return;
    }
    let conn = this.deps.rooms.get(frame.id);
    // Unknown connection (its join went to a monolith that died): take it over here.
    conn ??= this.join(peer, frame.id, frame.room, frame.token, true);
    if (!conn) return;
    if (!sameToken(conn, frame.token)) this.refresh(conn, frame.token);
    this.deps.gateway.handle(conn, frame.message);
  }

  leave(id: string): void {
    this.waiting.delete(id);
    this.deps.rooms.leave(id);
  }

  private refresh(conn: Conn, token: string): void {
    const who = identify(token);
    if (!who) return;
    conn.tokenTail = tokenTail(token);
    conn.claims = who.claims;
    if (who.claims.use === 'ws') void this.consume(conn, who);
  }

  /** Consumes a websocket token's jti; a reused (or unverifiable) one kicks the connection. */
  private async consume(conn: Conn, who: Identity): Promise<boolean> {
    const jti = who.claims.jti;
    let ok: boolean;
    try {
      ok = jti !== undefined && (await this.deps.consumeOnce(`gw:wstoken:${jti}`, WS_TOKEN_KEY_TTL_S));
    } catch (err) {
      // Failing closed: without the store a reused token could not be told from a new one.
      this.deps.log.warn('cannot check a websocket token; refusing it', { conn: conn.id, err: (err as Error).message });
      ok = false;
    }
    if (!ok && this.deps.rooms.get(conn.id) === conn) {
      this.deps.log.info('websocket token reused; kicking', { conn: conn.id });
      this.deps.rooms.leave(conn.id);
      this.kick(conn.link, conn.id, 'TOKEN_INVALID', 'websocket token already used');
    }
    return ok;
  }

  private kick(peer: LinkPeer, id: string, code: 'TOKEN_INVALID' | 'FORBIDDEN_ROOM', reason: string = CloseReason[code]): undefined {
    peer.send(JSON.stringify({ type: 'kick', id, code: CloseCode[code], reason }));
    return undefined;
  }
}
