import { randomBytes } from 'node:crypto';
import {
  ApiEvent,
  CloseCode,
  CloseReason,
  ErrorCode,
  errorFrame,
  frameDeeperThan,
  messageEnvelope,
  parseObject,
  type CloseCodeName,
  type Since,
  encodeB2M,
} from '@gateway/protocol';
import { takeToken } from '@gateway/server-kit';
import { SessionEvents } from './session-events.js';
import { SignIn } from './session-signin.js';
import type { MonolithLink } from './monolith-link.js';
import { dropChannels } from './channel-topics.js';
import { closeReason } from './client-replies.js';
import { decodeArchitus, encodeArchitus } from './dialects/architus.js';
import { SessionEvent as E, SessionState as S, transition, type SessionEvent } from './session-states.js';
import type { Session, SessionDeps, SocketData } from './session.js';

export type { Session, SessionDeps, SocketData } from './session.js';
import type { WebSocket } from './uws.js';

const MAX_QUEUED = 32;

/** The client-facing half of the balancer: forwarding, limits and the state machine (signing in: session-signin.ts). */
export class Sessions {
  readonly all = new Map<string, Session>();
  private counter = 0;
  /**
   * Connection ids are `<balancer id>.<process nonce>.<counter>`: unique even when two balancers
   * are (mis)configured with one BALANCER_ID or a balancer restarts, since monoliths key on them.
   */
  private readonly idPrefix: string;
  private readonly counts: SessionEvents;
  private readonly now: () => number;
  private readonly signIn: SignIn;

  constructor(private readonly deps: SessionDeps) {
    this.now = deps.now ?? Date.now;
    this.idPrefix = `${deps.config.BALANCER_ID}.${randomBytes(3).toString('hex')}.`;
    this.counts = new SessionEvents(deps.metrics, deps.log);
    this.signIn = new SignIn({
      deps,
      counts: this.counts,
      step: (s, on) => this.step(s, on),
      close: (s, on, code, reason) => this.close(s, on, code, reason),
      send: (s, text) => this.send(s, text),
      release: (s) => this.release(s),
      join: (s, rejoin, requestId, since) => this.join(s, rejoin, requestId, since),
      forward: (s, text, requestId) => this.forward(s, text, requestId),
    });
  }

  create(pathRoom: string | undefined, architus = false): Session {
    const now = this.now();
    const id = this.idPrefix + (++this.counter).toString(36);
    return {
      architus,
      anonymous: false,
      id,
      state: S.AWAITING_AUTH,
      ws: undefined,
      pathRoom,
      deadline: now + this.deps.config.AUTH_TIMEOUT_MS,
      subject: '',
      guest: false,
      room: '',
      token: '',
      link: undefined,
      tokens: this.deps.config.MESSAGE_BURST,
      refilledAt: now,
      authSeq: 0,
      queue: undefined,
      refuse: undefined,
      source: undefined,
      cookie: undefined,
    };
  }

  opened(ws: WebSocket<SocketData>): void {
    const s = ws.getUserData().session;
    if (s.refuse) {
      // Upgraded only to give the browser a close code: a bare HTTP refusal reads as 1006,
      // which clients retry forever.
      this.step(s, E.REFUSED);
      ws.end(CloseCode[s.refuse], CloseReason[s.refuse]);
      return;
    }
    s.ws = ws;
    this.all.set(s.id, s);
    this.counts.opened(s.id);
    if (!s.architus) return;
    // The architus dashboard sends no auth frame: its sign-in is the cookie of the upgrade, and
    // without one (the front page) it is a tokenless guest.
    const cookie = s.cookie;
    s.cookie = undefined;
    if (cookie !== undefined) void this.signIn.auth(s, { action: 'auth', token: cookie });
    else this.signIn.anonymousGuest(s);
  }

  message(ws: WebSocket<SocketData>, data: ArrayBuffer, isBinary: boolean): void {
    const s = ws.getUserData().session;
    this.counts.framesIn.value++;
    if (isBinary) return this.close(s, E.LIMIT, 'MALFORMED_FRAME');
    if (data.byteLength > this.deps.config.MAX_PAYLOAD_BYTES) return this.close(s, E.LIMIT, 'MESSAGE_TOO_LARGE');
    if (!this.take(s)) return this.close(s, E.LIMIT, 'FLOOD');
    // uWS has already checked the UTF-8 of text frames: an invalid one never gets here (uWS cuts
    // the TCP connection, a 1006; see INVALID_UTF8 in the close code catalogue).
    const text = Buffer.from(data).toString('utf8');
    const frame = parseObject(text);
    if (!frame) return this.close(s, E.LIMIT, 'MALFORMED_FRAME');
    // Refused here, where the frame is parsed anyway, before a monolith re-serializes it.
    if (frameDeeperThan(text, frame, this.deps.config.MAX_JSON_DEPTH)) return this.close(s, E.LIMIT, 'TOO_DEEP');
    if (s.architus) return this.dialectMessage(s, decodeArchitus(frame));
    if (frame.action === 'auth') return void this.signIn.auth(s, frame);
    // The gateway API's elevation is a re-auth (DESIGN §5): handled here, where sessions live.
    if (frame.event === ApiEvent.REQUEST_ELEVATION && s.state === S.OPEN) return void this.signIn.elevate(s, frame);
    switch (s.state) {
      case S.OPEN:
        return this.forward(s, text, frame._id);
      case S.VERIFYING:
        s.queue ??= [];
        if (s.queue.length >= MAX_QUEUED) return this.close(s, E.LIMIT, 'FLOOD');
        s.queue.push(text);
        return;
      default:
        this.counts.authFailed('not_auth', s.id);
        return this.close(s, E.NOT_AUTH, 'AUTH_REQUIRED');
    }
  }

  /** An architus frame, already mapped to a native one (it has no auth frames: cookie or guest). */
  private dialectMessage(s: Session, frame: Record<string, unknown>): void {
    if (frame.event === ApiEvent.REQUEST_ELEVATION && s.state === S.OPEN) return void this.signIn.elevate(s, frame);
    const text = JSON.stringify(frame);
    if (s.state === S.OPEN) return this.forward(s, text, frame._id);
    if (s.state === S.VERIFYING) {
      s.queue ??= [];
      if (s.queue.length >= MAX_QUEUED) return this.close(s, E.LIMIT, 'FLOOD');
      s.queue.push(text);
    }
  }

  /**
   * A websocket ping control frame (uWS has already answered it): it takes a MESSAGE_RATE token
   * like any frame, so a ping flood is closed with FLOOD instead of costing pongs for free.
   */
  ping(ws: WebSocket<SocketData>): void {
    const s = ws.getUserData().session;
    if (s.state !== S.CLOSED && !this.take(s)) this.close(s, E.LIMIT, 'FLOOD');
  }

  /** The socket is gone (any reason): tell the owner so the connection leaves its room. */
  closed(ws: WebSocket<SocketData>, code: number): void {
    const s = ws.getUserData().session;
    this.release(s);
    if (s.state !== S.CLOSED) this.step(s, E.DISCONNECT);
    s.ws = undefined;
    this.all.delete(s.id);
    s.link?.send(encodeB2M({ type: 'leave', room: s.room, id: s.id }));
    s.link = undefined;
    this.counts.closed(code, s.id);
  }

  /** Moves this balancer's connections in `room` off `from` (it lost the room) to the owner. */
  moveRoom(room: string, from: MonolithLink): void {
    for (const s of this.all.values()) if (s.room === room && s.link === from) this.move(s);
  }

  /**
   * Moves every connection off a monolith that died or drains: each is re-joined (with
   * `rejoin`, so it gets `welcome` + `resync`) on the room's new placement; the client stays
   * connected. Its channel subscriptions went with the old monolith. (A `leave` to a dead link
   * is a no-op: `send` refuses when the link is not ready.)
   */
  moveAll(from: MonolithLink): void {
    for (const s of this.all.values()) if (s.link === from) this.move(s);
  }

  private move(s: Session): void {
    s.link?.send(encodeB2M({ type: 'leave', room: s.room, id: s.id }));
    s.link = undefined;
    dropChannels(s.ws);
    if (s.state === S.OPEN) this.join(s, true);
  }

  /**
   * Periodic checks for every socket: auth deadline, token expiry and slow consumers. One pass
   * over all sessions instead of a timer per socket keeps per-connection memory small.
   */
  sweep(): void {
    const now = this.now();
    const limit = this.deps.config.MAX_BACKPRESSURE_BYTES;
    for (const s of this.all.values()) {
      if (s.state === S.OPEN) {
        if (s.deadline <= now) {
          this.close(s, E.EXPIRED, 'TOKEN_EXPIRED');
          continue;
        }
        // Native fan-out (publish) bypasses per-socket checks; catch its slow readers here.
        if (s.ws !== undefined && s.ws.getBufferedAmount() > limit) this.close(s, E.LIMIT, 'SLOW_CONSUMER');
      } else if (s.deadline <= now && s.state === S.AWAITING_AUTH) {
        this.counts.authFailed('timeout', s.id);
        this.close(s, E.AUTH_TIMEOUT, 'AUTH_TIMEOUT');
      } else if (s.deadline <= now && s.state === S.VERIFYING) {
        // The auth frame came in time; its verification (a slow JWKS endpoint) did not finish.
        this.counts.authFailed('verify_timeout', s.id);
        this.close(s, E.VERIFY_TIMEOUT, 'VERIFY_TIMEOUT');
      }
    }
  }

  /** Closes a session with a catalogued code. */
  close(s: Session, on: SessionEvent, code: CloseCodeName, reason: string = CloseReason[code]): void {
    if (s.state === S.CLOSED) return;
    this.step(s, on);
    s.ws?.end(CloseCode[code], closeReason(reason));
  }

  /**
   * Sends to one client; a socket whose send buffer passes MAX_BACKPRESSURE_BYTES is closed as a
   * slow consumer. uWS queues up to twice the limit, so the close frame still fits.
   */
  send(s: Session, text: string): void {
    const ws = s.ws;
    if (!ws) return;
    if (s.architus) {
      const mapped = encodeArchitus(text);
      if (mapped === undefined) return;
      text = mapped;
    }
    // 1 = sent; 0 = queued (backpressure); 2 = dropped over uWS's own cap.
    if (ws.send(text, false) !== 1 && (ws.getBufferedAmount() > this.deps.config.MAX_BACKPRESSURE_BYTES)) {
      this.close(s, E.LIMIT, 'SLOW_CONSUMER');
    }
  }

  /** Several messages to one client in one corked write (a replay); stops if the send closes it. */
  sendMany(s: Session, texts: readonly string[]): void {
    const ws = s.ws;
    if (!ws) return;
    ws.cork(() => {
      for (const text of texts) {
        if (s.ws !== ws || s.state === S.CLOSED) return;
        this.send(s, text);
      }
    });
  }

  /** A `kick` from the owning monolith. */
  kick(s: Session, code: number, reason: string): void {
    if (s.state === S.CLOSED) return;
    this.step(s, E.KICK);
    s.ws?.end(code, closeReason(reason));
  }

  /**
   * The only way a session changes state: an edge of the table (session-states.ts). An event
   * the table does not allow is a bug: it throws when `strict` (tests), else it is logged and
   * the session takes its DISCONNECT edge (every live state has one), so it still ends, through
   * the table, with the socket the caller is closing.
   */
  private step(s: Session, on: SessionEvent): void {
    const next = transition(s.state, on);
    if (next !== undefined) {
      s.state = next;
      return;
    }
    if (this.deps.strict) throw new Error(`session event "${on}" not allowed in state ${s.state}`);
    this.deps.log.warn('session event not allowed in state; closing the session', { id: s.id, state: s.state, on });
    const out = transition(s.state, E.DISCONNECT);
    if (out !== undefined) s.state = out;
  }

  private take(s: Session): boolean {
    const c = this.deps.config;
    return s.anonymous
      ? takeToken(s, this.now(), c.ANONYMOUS_MESSAGE_RATE, c.ANONYMOUS_MESSAGE_BURST)
      : takeToken(s, this.now(), c.MESSAGE_RATE, c.MESSAGE_BURST);
  }

  /** The socket no longer counts against the unauthenticated budget (it authenticated or closed). */
  private release(s: Session): void {
    if (s.source === undefined) return;
    if (s.anonymous) this.deps.admission.releaseAnonymous(s.source);
    else this.deps.admission.release(s.source);
    s.source = undefined;
  }

  private forward(s: Session, text: string, requestId: unknown): void {
    if (s.link?.send(messageEnvelope(s.id, text))) return;
    this.send(s, errorFrame(ErrorCode.UNAVAILABLE, 'no monolith is linked for this room', requestId));
  }

  /** Sends `join` to the room's monolith; closes with NO_MONOLITH when there is none. */
  private join(s: Session, rejoin: boolean, requestId?: number | string, since?: Since): boolean {
    const link = this.deps.router.pick(s.room);
    // `_id` of the auth frame, echoed by the monolith in its `welcome`; `since` passes through.
    const frame = encodeB2M({ type: 'join', token: s.token, room: s.room, id: s.id, rejoin: rejoin || undefined, _id: requestId, since });
    if (!link || !link.send(frame)) {
      this.close(s, E.NO_MONOLITH, 'NO_MONOLITH');
      return false;
    }
    s.link = link;
    return this.counts.joined(s.id, s.room, link.address, rejoin);
  }
}
