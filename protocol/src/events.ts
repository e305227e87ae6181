/**
 * The event names on the client wire, dependency-free so that the browser SDK imports them
 * (through `@gateway/protocol/codes`) instead of retyping them. Their payloads' schemas are in
 * gateway.ts and gateway-api.ts.
 */

/** Events the gateway itself sends (pushes and replies). */
export const ServerEvent = {
  WELCOME: 'welcome',
  PONG: 'pong',
  /** Reply to an `auth` frame that refreshed the token of the same subject. */
  REFRESHED: 'refreshed',
  ERROR: 'error',
  /** The room moved to another monolith: re-issue subscriptions and re-fetch state. */
  RESYNC: 'resync',
  /**
   * Push: publications `from`..`to` of `stream` (of `epoch`) will not be delivered: the monolith
   * missed them live and history no longer holds them, or could not be read through 6 attempts
   * (`data: {stream, epoch, from, to}`).
   * Reload that stream's state, as after `recovered: false`.
   */
  STREAM_GAP: 'stream_gap',
} as const;

/** Events clients may send to the monolith in this version. */
export const ClientEvent = {
  PING: 'ping',
} as const;

/** The gateway API's requests, replies and pushes (DESIGN §5). */
export const ApiEvent = {
  REQUEST_ELEVATION: 'request_elevation',
  INTERPRET: 'interpret',
  /**
   * The mock bot with architus's action lists: `mock_user_event {guild_id, message_id, action,
   * content?|emoji?, allowed_commands?, silent?}` → `mock_bot_event {guild_id, actions}`.
   */
  MOCK_USER_EVENT: 'mock_user_event',
  MOCK_BOT_EVENT: 'mock_bot_event',
  SPECTATE: 'spectate',
  POOL_REQUEST: 'pool_request',
  POOL_ALL_REQUEST: 'pool_all_request',
  POOL_SEARCH_REQUEST: 'pool_search_request',
  /**
   * Reply to every pool request: one or more chunks, exactly one (the last) `finished`, even when
   * the request was refused or failed (then after the `error` frame, with `error: <code>`; see
   * PoolResponse in gateway-api.ts).
   */
  POOL_RESPONSE: 'pool_response',
  /** Push: an entity of the spectated guild changed. */
  LOG_POOL: 'log_pool',
  /** Push: a log entry of the spectated guild. */
  LOG_OTHER: 'log_other',
  /**
   * Push: a token refresh removed or lowered permissions, and these spectate channels were
   * dropped (`data: {guild_id, channels, spectating, reason}`; `spectating: false` when none is left).
   */
  SPECTATE_REVOKED: 'spectate_revoked',
  /** `recover {since}` → `{recovered}`: the session's streams from the given positions. */
  RECOVER: 'recover',
  /** `history {stream, since?, limit?}` → `{stream, position, publications: [{offset, time, message}]}`. */
  HISTORY: 'history',
} as const;
