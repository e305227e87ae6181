import { ANONYMOUS_TOKEN, anonymousSubject, CloseCode, CloseReason, encodeUnicast, ErrorCode, errorFrame, TOKEN_FAILURE_CLOSE, type CloseCodeName, type MessageFrame, type Since, type TokenFrame, encodeM2B } from '@gateway/protocol';
import type { Log, VerifyResult } from '@gateway/server-kit';
import type { LinkPeer } from '../rooms/links.js';
import { sameToken, tokenTail, type Conn, type Rooms } from '../rooms/rooms.js';
import type { Gateway } from './gateway.js';
import { mayEnter, type Identity } from './room-access.js';
import { RESYNC, welcome } from './welcome.js';

export interface AdmissionDeps {
  rooms: Rooms;
  gateway: Gateway;
  monolithId: string;
  /** The same verifier and rules as the balancer's, cached by token (TokenCache). */
  verify(token: string): Promise<VerifyResult>;
  /** True the first time a key is seen within its TTL (single-use websocket tokens). */
  consumeOnce(key: string, ttlSeconds: number): Promise<boolean>;
  /**
   * The connection is admitted: send its `welcome` (built by `greet` with the extra fields
   * given) and recover its session stream; resolves once that is done (SessionStreams).
   */
  admitted(conn: Conn, since: Since | undefined, rejoin: boolean, greet: (extra: Record<string, unknown>) => string): Promise<void>;
  log: Log;
}

/** What waits, in order, while a connection's token is verified. */
type Waiting = MessageFrame | TokenFrame;

/** A websocket token (`use: "ws"`) opens one session: its `jti` is consumed on first use. */
const WS_TOKEN_KEY_TTL_S = 120;

/**
 * Who may enter which room, and the per-connection order of what follows. The monolith verifies
 * every token it acts on (DESIGN §3, defence in depth: a link that was somehow compromised still
 * cannot forge users): the token of a `join`, and that of a `token` frame (a refresh) that differs
 * from the connection's current one. A `message` carries no token: it acts under the identity
 * its connection's join verified. Verification is asynchronous, so while it runs for a connection its
 * frames wait, in order, and are handled once it is done; a token that does not verify kicks the
 * connection with its catalogued code. Single-use websocket tokens are consumed before the
 * connection is admitted, so a replay gets nothing but the close.
 */
export class Admission {
  /** Frames of connections whose token is being verified or consumed. */
  private readonly waiting = new Map<string, Waiting[]>();
  /** Called after a connection's claims changed (a refresh that may lower permissions). */
  private readonly claimsListeners: Array<(conn: Conn) => void> = [];

  constructor(private readonly deps: AdmissionDeps) {}

  onClaimsChanged(listener: (conn: Conn) => void): void {
    this.claimsListeners.push(listener);
  }

  join(peer: LinkPeer, id: string, room: string, token: string, rejoin: boolean, requestId?: number | string, since?: Since): void {
    // A new join replaces the connection: what waited for an earlier one is void.
    const queue: Waiting[] = [];
    this.waiting.set(id, queue);
    void this.identify(id, token).then(async (result) => {
      if (this.waiting.get(id) !== queue) return;
      if (!result.ok) return this.refuse(peer, id, TOKEN_FAILURE_CLOSE[result.reason], `token refused on join: ${result.reason}`);
      const who: Identity = { claims: result.claims, subject: result.subject, guest: result.guest };
      if (!mayEnter(room, who)) return this.refuse(peer, id, 'FORBIDDEN_ROOM', 'room not allowed for this token');
      // A connection moved here after a failover re-presents a token already used: not a reuse.
      if (!rejoin && who.claims.use === 'ws' && !(await this.consumed(id, who))) {
        if (this.waiting.get(id) === queue) this.refuse(peer, id, 'TOKEN_INVALID', 'websocket token already used');
        return;
      }
      if (this.waiting.get(id) !== queue) return;
      const conn = this.deps.rooms.join(peer, id, room, token, who.claims, who.subject, who.guest);
      // Frames keep waiting until the welcome and the session stream's replay are out.
      await this.deps.admitted(conn, since, rejoin, (extra) => welcome(conn, this.deps.monolithId, requestId, extra));
      if (this.waiting.get(id) !== queue || this.deps.rooms.get(id) !== conn) return;
      if (rejoin) this.deps.rooms.unicast(conn, RESYNC);
      this.waiting.delete(id);
      this.replay(peer, queue);
    });
  }

  /** A join's token verified, or the identity of a tokenless guest (ANONYMOUS_TOKEN). */
  private identify(id: string, token: string): Promise<VerifyResult> {
    if (token !== ANONYMOUS_TOKEN) return this.deps.verify(token);
    const subject = anonymousSubject(id);
    return Promise.resolve({ ok: true, claims: { guest: true, jti: subject }, subject, guest: true, expMs: Number.MAX_SAFE_INTEGER });
  }

  message(peer: LinkPeer, frame: MessageFrame): void {
    // Per message: skip the lookup in the common case of no token being verified.
    const queue = this.waiting.size === 0 ? undefined : this.waiting.get(frame.id);
    if (queue) {
      queue.push(frame);
      return;
    }
    const conn = this.deps.rooms.get(frame.id);
    if (!conn) {
      // Not (or no longer) here: refused or left, or its room moved away while the balancer was
      // moving it. A message acts only under an identity its join verified (link protocol 3:
      // envelopes carry no token), so it is answered, retryably, and nothing else happens.
      const requestId = (frame.message as { _id?: unknown })._id;
      // (`room` of a unicast is informational; the balancer routes by id.)
      peer.send(encodeUnicast('-', frame.id, errorFrame(ErrorCode.UNAVAILABLE, 'this connection is not joined here (it may be moving); retry', requestId)));
      return;
    }
    this.deps.gateway.handle(conn, frame.message);
  }

  /** The balancer tells of a new token for a connection (a refresh): verify it and apply its claims. */
  token(frame: TokenFrame): void {
    const queue = this.waiting.size === 0 ? undefined : this.waiting.get(frame.id);
    if (queue) {
      queue.push(frame);
      return;
    }
    const conn = this.deps.rooms.get(frame.id);
    if (conn && !sameToken(conn, frame.token)) this.refresh(conn, frame.token);
  }

  leave(id: string): void {
    this.waiting.delete(id);
    this.deps.rooms.leave(id);
  }

  /** Verifies a connection's new token; its frames wait in the returned queue meanwhile. */
  private refresh(conn: Conn, token: string): Waiting[] {
    const queue: Waiting[] = [];
    this.waiting.set(conn.id, queue);
    void this.deps.verify(token).then(async (result) => {
      if (this.waiting.get(conn.id) !== queue || this.deps.rooms.get(conn.id) !== conn) return;
      if (!result.ok) return this.refuse(conn.link, conn.id, TOKEN_FAILURE_CLOSE[result.reason], `refreshed token refused: ${result.reason}`);
      // A refresh keeps the identity; another subject arrives as leave + join, never as a message.
      if (result.subject !== conn.subject || result.guest !== conn.guest) return this.refuse(conn.link, conn.id, 'TOKEN_CLAIMS', 'token of another subject');
      const who: Identity = { claims: result.claims, subject: result.subject, guest: result.guest };
      if (who.claims.use === 'ws' && !(await this.consumed(conn.id, who))) {
        if (this.waiting.get(conn.id) === queue) this.refuse(conn.link, conn.id, 'TOKEN_INVALID', 'websocket token already used');
        return;
      }
      if (this.waiting.get(conn.id) !== queue || this.deps.rooms.get(conn.id) !== conn) return;
      this.waiting.delete(conn.id);
      conn.tokenTail = tokenTail(token);
      conn.claims = who.claims;
      for (const listener of this.claimsListeners) listener(conn);
      this.replay(conn.link, queue);
    });
    return queue;
  }

  private replay(peer: LinkPeer, queue: Waiting[]): void {
    for (const frame of queue) frame.type === 'message' ? this.message(peer, frame) : this.token(frame);
  }

  /** Consumes a websocket token's jti; false for a reused (or uncheckable) one. */
  private async consumed(id: string, who: Identity): Promise<boolean> {
    const jti = who.claims.jti;
    try {
      return jti !== undefined && (await this.deps.consumeOnce(`gw:wstoken:${jti}`, WS_TOKEN_KEY_TTL_S));
    } catch (err) {
      // Failing closed: without the store a reused token could not be told from a new one.
      this.deps.log.warn('cannot check a websocket token; refusing it', { conn: id, err: (err as Error).message });
      return false;
    }
  }

  /** Drops whatever waited, removes the connection if it was admitted, and kicks it. */
  private refuse(peer: LinkPeer, id: string, code: CloseCodeName, why: string): void {
    this.waiting.delete(id);
    this.deps.rooms.leave(id);
    this.deps.log.info('connection refused', { conn: id, code, why });
    peer.send(encodeM2B({ type: 'kick', id, code: CloseCode[code], reason: CloseReason[code] }));
  }
}
