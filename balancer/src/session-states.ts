/**
 * The client connection state machine on the balancer. `transition()` is the only way a
 * session changes state, and `figures/client-connection-state.svg` is generated from this table,
 * so the diagram cannot drift from the code.
 */
export const SessionState = {
  AWAITING_AUTH: 'awaiting_auth',
  VERIFYING: 'verifying',
  OPEN: 'open',
  CLOSED: 'closed',
} as const;
export type SessionState = (typeof SessionState)[keyof typeof SessionState];

export const SessionEvent = {
  /** Architus-dialect sockets send none: their sign-in (the upgrade's cookie, or none) is taken as one on open. */
  AUTH_FRAME: 'auth frame (architus: cookie or none)',
  TOKEN_OK: 'token valid, join sent',
  TOKEN_BAD: 'token refused',
  NOT_AUTH: 'non-auth frame',
  AUTH_TIMEOUT: 'AUTH_TIMEOUT_MS passed',
  VERIFY_TIMEOUT: 'AUTH_TIMEOUT_MS passed while verifying',
  REFUSED: 'refused (at the upgrade, or over the tokenless guest budget)',
  ANONYMOUS: 'tokenless guest, join sent',
  APP_FRAME: 'app frame (forwarded)',
  REFRESH: 'auth, same subject',
  ELEVATE: 'auth, new subject',
  BAD_REAUTH: 'auth, bad token (error reply)',
  EXPIRED: 'token exp passed',
  LIMIT: 'malformed, too large, too deep, flood, slow',
  KICK: 'kick from monolith',
  NO_MONOLITH: 'no monolith linked',
  DRAIN: 'balancer shutting down',
  DISCONNECT: 'socket closed',
} as const;
export type SessionEvent = (typeof SessionEvent)[keyof typeof SessionEvent];

export interface Transition {
  from: SessionState;
  on: SessionEvent;
  to: SessionState;
  /** The close code name sent, when the transition closes the socket. */
  close?: string;
}

const S = SessionState;
const E = SessionEvent;

export const TRANSITIONS: readonly Transition[] = [
  { from: S.AWAITING_AUTH, on: E.AUTH_FRAME, to: S.VERIFYING },
  { from: S.AWAITING_AUTH, on: E.NOT_AUTH, to: S.CLOSED, close: 'AUTH_REQUIRED' },
  { from: S.AWAITING_AUTH, on: E.AUTH_TIMEOUT, to: S.CLOSED, close: 'AUTH_TIMEOUT' },
  { from: S.AWAITING_AUTH, on: E.LIMIT, to: S.CLOSED, close: 'MALFORMED_FRAME | MESSAGE_TOO_LARGE | TOO_DEEP | FLOOD' },
  { from: S.AWAITING_AUTH, on: E.DRAIN, to: S.CLOSED, close: 'DRAINING' },
  { from: S.AWAITING_AUTH, on: E.REFUSED, to: S.CLOSED, close: 'ORIGIN_NOT_ALLOWED | UNKNOWN_DIALECT | DRAINING | SERVER_FULL | RATE_LIMITED' },
  { from: S.AWAITING_AUTH, on: E.DISCONNECT, to: S.CLOSED },
  { from: S.VERIFYING, on: E.TOKEN_OK, to: S.OPEN },
  { from: S.VERIFYING, on: E.TOKEN_BAD, to: S.CLOSED, close: 'TOKEN_* | FORBIDDEN_ROOM' },
  { from: S.VERIFYING, on: E.NO_MONOLITH, to: S.CLOSED, close: 'NO_MONOLITH' },
  { from: S.VERIFYING, on: E.VERIFY_TIMEOUT, to: S.CLOSED, close: 'VERIFY_TIMEOUT' },
  { from: S.VERIFYING, on: E.APP_FRAME, to: S.VERIFYING },
  { from: S.VERIFYING, on: E.LIMIT, to: S.CLOSED, close: 'MALFORMED_FRAME | MESSAGE_TOO_LARGE | TOO_DEEP | FLOOD' },
  { from: S.VERIFYING, on: E.DRAIN, to: S.CLOSED, close: 'DRAINING' },
  { from: S.VERIFYING, on: E.DISCONNECT, to: S.CLOSED },
  { from: S.VERIFYING, on: E.ANONYMOUS, to: S.OPEN },
  { from: S.VERIFYING, on: E.REFUSED, to: S.CLOSED, close: 'SERVER_FULL | RATE_LIMITED' },
  { from: S.OPEN, on: E.APP_FRAME, to: S.OPEN },
  { from: S.OPEN, on: E.REFRESH, to: S.OPEN },
  { from: S.OPEN, on: E.ELEVATE, to: S.OPEN },
  { from: S.OPEN, on: E.BAD_REAUTH, to: S.OPEN },
  { from: S.OPEN, on: E.EXPIRED, to: S.CLOSED, close: 'TOKEN_EXPIRED' },
  { from: S.OPEN, on: E.LIMIT, to: S.CLOSED, close: 'MALFORMED_FRAME | MESSAGE_TOO_LARGE | TOO_DEEP | FLOOD | SLOW_CONSUMER' },
  { from: S.OPEN, on: E.KICK, to: S.CLOSED, close: 'TOKEN_* | FORBIDDEN_ROOM' },
  { from: S.OPEN, on: E.NO_MONOLITH, to: S.CLOSED, close: 'NO_MONOLITH' },
  { from: S.OPEN, on: E.DRAIN, to: S.CLOSED, close: 'DRAINING' },
  { from: S.OPEN, on: E.DISCONNECT, to: S.CLOSED },
];

const table = new Map<string, SessionState>(TRANSITIONS.map((t) => [`${t.from}|${t.on}`, t.to]));

/** The next state, or undefined when the event is not allowed in this state. */
export function transition(from: SessionState, on: SessionEvent): SessionState | undefined {
  return table.get(`${from}|${on}`);
}
