/**
 * Every close code the gateway sends, in one place (STYLE rule 1).
 *
 * Ranges:
 * - 4000-4099: **reconnect**. The session ended for a reason on our side or a transient one;
 *   clients reconnect with full-jitter exponential back-off (and fetch a fresh token first).
 * - 4100-4199: **terminal**. Reconnecting with the same input fails the same way; clients stop
 *   and surface the error.
 * - Standard codes below 4000 follow RFC 6455: 1000/1003/1007/1008/1009 are terminal, the rest
 *   (1001 going away, 1006 abnormal, 1011 internal, 1012 restart, 1013 try again) reconnect.
 */
export const CloseCode = {
  /** Balancer is draining (deploy or scale-in): reconnect to another balancer. */
  DRAINING: 4000,
  /** No monolith is linked for this room yet: retry shortly. */
  NO_MONOLITH: 4001,
  /**
   * Too many new connections: over CONNECT_RATE, or from one client address over
   * CONNECT_RATE_PER_IP or MAX_UNAUTHENTICATED_PER_IP (a per-source limit): retry with back-off.
   */
  RATE_LIMITED: 4002,
  /** The client did not read fast enough and its send buffer passed the limit. */
  SLOW_CONSUMER: 4003,
  /** The token expired without a refresh: reconnect with a fresh token. */
  TOKEN_EXPIRED: 4004,
  /**
   * A balancer-wide budget is used up: MAX_CONNECTIONS, or MAX_UNAUTHENTICATED sockets that have
   * not finished auth: retry with back-off, ideally elsewhere.
   */
  SERVER_FULL: 4005,
  /**
   * The auth frame arrived in time but its token could not be verified within AUTH_TIMEOUT_MS
   * (a slow JWKS endpoint): our side's delay, retry.
   */
  VERIFY_TIMEOUT: 4006,
  /** No `auth` frame arrived within AUTH_TIMEOUT_MS. */
  AUTH_TIMEOUT: 4100,
  /** The first frame was not an `auth` frame. */
  AUTH_REQUIRED: 4101,
  /** The token is malformed or its signature does not verify. */
  TOKEN_INVALID: 4102,
  /** The token's `nbf` is in the future. */
  TOKEN_NOT_YET_VALID: 4103,
  /** The token uses `alg: none` or an algorithm this gateway is not configured for. */
  TOKEN_ALGORITHM: 4104,
  /** Wrong `iss` or `aud`, or a required claim (`sub`) is missing. */
  TOKEN_CLAIMS: 4105,
  /** The requested room is someone else's private room, or not a valid room name. */
  FORBIDDEN_ROOM: 4106,
  /** A frame was not JSON, not a JSON object, or was binary. */
  MALFORMED_FRAME: 4107,
  /** A frame was larger than MAX_PAYLOAD_BYTES. */
  MESSAGE_TOO_LARGE: 4108,
  /** The client sent faster than its message rate limit allows. */
  FLOOD: 4109,
  /** The browser's Origin is not in ALLOWED_ORIGINS (sent right after the upgrade). */
  ORIGIN_NOT_ALLOWED: 4111,
  /** A client frame nested objects/arrays deeper than MAX_JSON_DEPTH. */
  TOO_DEEP: 4112,
  /** `/ws?dialect=` named a wire dialect this balancer does not speak (it speaks `architus`). */
  UNKNOWN_DIALECT: 4113,
  /** Link only (never sent to clients): the peer's proof of LINK_SECRET did not verify. */
  LINK_AUTH_FAILED: 4190,
  /**
   * A text frame that is not valid UTF-8 (RFC 6455 section 8.1). The balancer cannot send it:
   * uWebSockets.js checks UTF-8 itself and cuts the TCP connection before any handler sees the
   * frame, so the client reads 1006 (the balancer's close handler gets 1006, "Received invalid
   * UTF-8"); e2e/tests/security-control-frames.test.ts pins this. Browsers and the SDK cannot
   * send invalid UTF-8 (strings are encoded), so only a hand-made client meets the 1006, and its
   * reconnects are held by CONNECT_RATE_PER_IP. Catalogued so clients classify it (terminal).
   */
  INVALID_UTF8: 1007,
} as const;

export type CloseCodeName = keyof typeof CloseCode;
export type CloseCodeValue = (typeof CloseCode)[CloseCodeName];

export const RECONNECT_RANGE = { min: 4000, max: 4099 } as const;
export const TERMINAL_RANGE = { min: 4100, max: 4199 } as const;

const TERMINAL_STANDARD = new Set([1000, 1003, 1007, 1008, 1009]);

/** True when a client must not reconnect after this close code. */
export function isTerminal(code: number): boolean {
  if (code >= TERMINAL_RANGE.min && code <= TERMINAL_RANGE.max) return true;
  if (code >= RECONNECT_RANGE.min && code <= RECONNECT_RANGE.max) return false;
  return TERMINAL_STANDARD.has(code);
}

/** Short reason strings sent in the close frame (RFC 6455 caps reasons at 123 bytes). */
export const CloseReason: Record<CloseCodeName, string> = {
  DRAINING: 'balancer draining, reconnect',
  NO_MONOLITH: 'no monolith available, retry',
  RATE_LIMITED: 'too many new connections, retry later',
  SLOW_CONSUMER: 'send buffer limit exceeded',
  TOKEN_EXPIRED: 'token expired',
  SERVER_FULL: 'connection limit reached',
  VERIFY_TIMEOUT: 'token verification took too long, retry',
  AUTH_TIMEOUT: 'no auth frame in time',
  AUTH_REQUIRED: 'first frame must be auth',
  TOKEN_INVALID: 'invalid token',
  TOKEN_NOT_YET_VALID: 'token not yet valid',
  TOKEN_ALGORITHM: 'token algorithm not allowed',
  TOKEN_CLAIMS: 'token claims rejected',
  FORBIDDEN_ROOM: 'room not allowed',
  MALFORMED_FRAME: 'frame must be a JSON object',
  MESSAGE_TOO_LARGE: 'frame too large',
  FLOOD: 'message rate limit exceeded',
  ORIGIN_NOT_ALLOWED: 'origin not allowed',
  TOO_DEEP: 'frame nested too deeply',
  UNKNOWN_DIALECT: 'unknown dialect',
  LINK_AUTH_FAILED: 'link authentication failed',
  INVALID_UTF8: 'frame is not valid UTF-8',
};

const byValue = new Map<number, CloseCodeName>(
  Object.entries(CloseCode).map(([name, code]) => [code, name as CloseCodeName]),
);

export function closeCodeName(code: number): CloseCodeName | undefined {
  return byValue.get(code);
}

/** The close code for each reason a token verifier refuses a token (balancer and monolith alike). */
export const TOKEN_FAILURE_CLOSE = {
  invalid: 'TOKEN_INVALID',
  expired: 'TOKEN_EXPIRED',
  not_yet_valid: 'TOKEN_NOT_YET_VALID',
  algorithm: 'TOKEN_ALGORITHM',
  claims: 'TOKEN_CLAIMS',
} as const satisfies Record<string, CloseCodeName>;
