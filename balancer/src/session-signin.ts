import {
  ApiEvent,
  ErrorCode,
  errorFrame,
  ServerEvent,
  TOKEN_FAILURE_CLOSE,
  isPrivateRoom,
  parseObject,
  validateAuthFrame,
  validateElevationRequest,
  type CloseCodeName,
  type Since,
  encodeB2M,
  ANONYMOUS_TOKEN,
  anonymousSubject,
} from '@gateway/protocol';
import type { SessionEvents } from './session-events.js';
import { dropChannels } from './channel-topics.js';
import { elevationResult } from './client-replies.js';
import { chooseRoom } from './room-policy.js';
import { SessionEvent as E, SessionState as S, type SessionEvent } from './session-states.js';
import type { Session, SessionDeps } from './session.js';

/** What signing in needs of the sessions (client-session.ts): their parts and their edges. */
export interface SignInHost {
  readonly deps: SessionDeps;
  readonly counts: SessionEvents;
  step(s: Session, on: SessionEvent): void;
  close(s: Session, on: SessionEvent, code: CloseCodeName, reason?: string): void;
  send(s: Session, text: string): void;
  /** The socket no longer counts against the unauthenticated budget. */
  release(s: Session): void;
  /** Sends `join` to the room's monolith; false (the session closed) when there is none. */
  join(s: Session, rejoin: boolean, requestId?: number | string, since?: Since): boolean;
  forward(s: Session, text: string, requestId: unknown): void;
}

/**
 * A session's sign-in: the first auth frame (or an architus sign-in cookie, else a tokenless
 * guest), a token refresh, and an elevation to another identity, each verified, then joined to
 * its room's monolith; frames sent meanwhile follow once joined.
 */
export class SignIn {
  constructor(private readonly host: SignInHost) {}

  /**
   * Admits an architus-dialect socket without a (valid) sign-in cookie as a tokenless guest:
   * identity `anon.<connection id>` (the monolith derives the same from ANONYMOUS_TOKEN), its
   * own per-source and balancer-wide budgets and message rate, no expiry. Off when
   * MAX_ANONYMOUS_GUESTS is 0: the socket closes with AUTH_REQUIRED.
   */
  anonymousGuest(s: Session, refused?: CloseCodeName): void {
    if (s.state === S.CLOSED) return;
    if (this.host.deps.config.MAX_ANONYMOUS_GUESTS === 0) {
      // A refused cookie closes as it would over the native protocol.
      if (refused !== undefined) return this.host.close(s, E.TOKEN_BAD, refused);
      return this.host.close(s, E.NOT_AUTH, 'AUTH_REQUIRED', 'sign in first: tokenless guests are off');
    }
    if (s.state === S.AWAITING_AUTH) this.host.step(s, E.AUTH_FRAME);
    const source = s.source;
    this.host.release(s);
    // Every admitted socket has a source; one without is refused rather than let in unbudgeted.
    const refusal = source === undefined ? 'SERVER_FULL' : this.host.deps.admission.admitAnonymous(source);
    if (refusal !== undefined) return this.host.close(s, E.REFUSED, refusal, 'too many tokenless guests');
    s.source = source;
    s.anonymous = true;
    s.subject = anonymousSubject(s.id);
    s.guest = true;
    s.deadline = Number.MAX_SAFE_INTEGER;
    s.room = `guest:${s.subject}`;
    s.token = ANONYMOUS_TOKEN;
    s.tokens = this.host.deps.config.ANONYMOUS_MESSAGE_BURST;
    this.host.step(s, E.ANONYMOUS);
    // Frames sent while a refused cookie was verified follow the join, as after a valid one.
    if (this.host.join(s, false)) this.flushQueue(s);
  }

  /** `request_elevation {token}` → `{result}`; on success the new owner also sends `welcome`. */
  elevate(s: Session, frame: Record<string, unknown>): Promise<void> {
    const data = frame.data;
    if (!validateElevationRequest.check(data)) {
      this.host.send(s, errorFrame(ErrorCode.BAD_REQUEST, validateElevationRequest.explain(data), frame._id));
      return Promise.resolve();
    }
    return this.auth(s, { action: 'auth', token: data.token, _id: frame._id }, true);
  }

  async auth(s: Session, frame: Record<string, unknown>, elevation = false): Promise<void> {
    if (!validateAuthFrame.check(frame)) {
      if (s.state === S.OPEN) {
        this.host.send(s, errorFrame(ErrorCode.BAD_REQUEST, validateAuthFrame.explain(frame), frame._id));
        return;
      }
      return this.host.close(s, E.LIMIT, 'MALFORMED_FRAME');
    }
    const first = s.state === S.AWAITING_AUTH;
    if (first) this.host.step(s, E.AUTH_FRAME);
    else if (s.state !== S.OPEN) return this.host.close(s, E.LIMIT, 'FLOOD');
    const seq = ++s.authSeq;
    const result = await this.host.deps.verify(frame.token);
    if (s.state === S.CLOSED || seq !== s.authSeq) return;

    if (!result.ok) {
      this.host.counts.authFailed(result.reason, s.id);
      // The detail can quote token content: it goes to the log, not into the close frame.
      this.host.deps.log.debug('token refused', { id: s.id, reason: result.reason, detail: result.detail.slice(0, 200) });
      if (first && s.architus) {
        // A stale sign-in cookie must not lock the dashboard out (every reconnect would carry it):
        // the socket goes on as a tokenless guest, told why.
        if (this.host.deps.config.MAX_ANONYMOUS_GUESTS > 0) this.host.send(s, errorFrame(ErrorCode.TOKEN_REJECTED, `sign-in cookie refused: ${result.reason}`, undefined));
        return this.anonymousGuest(s, TOKEN_FAILURE_CLOSE[result.reason]);
      }
      if (first) return this.host.close(s, E.TOKEN_BAD, TOKEN_FAILURE_CLOSE[result.reason]);
      this.host.send(s, 
        elevation
          ? elevationResult(false, frame._id)
          : errorFrame(ErrorCode.TOKEN_REJECTED, `token refused: ${result.reason}`, frame._id),
      );
      return this.host.step(s, E.BAD_REAUTH);
    }
    if (!first && result.subject === s.subject && result.guest === s.guest) {
      s.deadline = result.expMs;
      s.token = frame.token;
      // The owner applies the new claims at once (a refresh may lower permissions).
      s.link?.send(encodeB2M({ type: 'token', token: frame.token, room: s.room, id: s.id }));
      this.host.step(s, E.REFRESH);
      this.host.send(s, 
        elevation
          ? elevationResult(true, frame._id)
          : JSON.stringify({ event: ServerEvent.REFRESHED, _id: frame._id, data: { exp: result.claims.exp ?? null } }),
      );
      return;
    }
    // A new session, or an elevation to another subject: both (re)enter a room. The URL's room
    // carries over to an elevation only when public: a guest's private room is not the user's.
    const pathRoom = first || (s.pathRoom !== undefined && !isPrivateRoom(s.pathRoom)) ? s.pathRoom : undefined;
    const requested = frame.room ?? pathRoom;
    const room = chooseRoom(requested, result.subject, result.guest);
    if (room === undefined) {
      this.host.counts.authFailed('forbidden_room', s.id);
      if (first) return this.host.close(s, E.TOKEN_BAD, 'FORBIDDEN_ROOM');
      this.host.send(s, elevation ? elevationResult(false, frame._id) : errorFrame(ErrorCode.FORBIDDEN, `room ${requested} is not allowed`, frame._id));
      return this.host.step(s, E.BAD_REAUTH);
    }
    if (!first) {
      if (s.anonymous) {
        // Signed in: the socket leaves the tokenless guests' budgets.
        this.host.release(s);
        s.anonymous = false;
      }
      s.link?.send(encodeB2M({ type: 'leave', room: s.room, id: s.id }));
      // A new identity starts without the old one's channel subscriptions (permissions differ),
      // its old room's among them.
      dropChannels(s.ws);
      this.host.step(s, E.ELEVATE);
    }
    s.subject = result.subject;
    s.guest = result.guest;
    s.deadline = result.expMs;
    s.room = room;
    s.token = frame.token;
    // No subscribe to the room here: the owner subscribes the socket to its room's channel once
    // it has admitted it (and replayed what the auth frame's `since` missed).
    if (elevation) this.host.send(s, elevationResult(true, frame._id));
    // An auth frame's `_id` is echoed by the welcome; an elevation's was answered just above.
    if (!this.host.join(s, false, elevation ? undefined : frame._id, frame.since)) return;
    if (first) {
      this.host.step(s, E.TOKEN_OK);
      this.host.release(s);
    }
    this.flushQueue(s);
  }

  /** Frames sent while the first token verified, in order, now that the session is joined. */
  private flushQueue(s: Session): void {
    const queued = s.queue;
    s.queue = undefined;
    // A queued elevation is still the balancer's to answer, like one sent once open (DESIGN §5).
    for (const text of queued ?? []) {
      const frame = parseObject(text);
      if (frame?.event === ApiEvent.REQUEST_ELEVATION) void this.elevate(s, frame);
      else this.host.forward(s, text, undefined);
    }
  }
}
