/**
 * Bounds of the mock bot's memory (README "The mock bot"). Nothing a mock guild holds reaches the
 * store; all of it lives here, per (connection subject, mock guild id), and is forgotten by these
 * rules. Worst case per monolith: MAX_GUILDS × (GUILD_TEXT_BUDGET chars + MAX_MESSAGES ids).
 */
export const MockLimits = {
  /** Guild states per monolith; the least recently used one is dropped beyond it. */
  MAX_GUILDS: 10_000,
  /** A guild state untouched this long is forgotten (the front page never resets its guilds). */
  IDLE_TTL_MS: 30 * 60_000,
  /** Auto responses per guild; `!set` beyond it answers the real bot's limit text. */
  MAX_RESPONSES: 50,
  /** Bot messages remembered per guild (for reactions); the oldest is dropped beyond it. */
  MAX_MESSAGES: 200,
  /**
   * Characters a guild may keep in auto responses (trigger + response) and poll/schedule texts
   * together: `!set` past it is refused, the oldest poll or schedule is forgotten.
   */
  GUILD_TEXT_BUDGET: 4096,
  MAX_TRIGGER_LENGTH: 100,
  MAX_RESPONSE_LENGTH: 500,
  /** A rendered auto response longer than this is replaced by a notice, as in architus. */
  MAX_RENDERED_LENGTH: 500,
} as const;

/** How the bot mentions the (only) mock user; the frontend rewrites it to the local user. */
export const MOCK_USER_MENTION = '<@%_CLIENT_ID_%>';
/** The mock user's display name (`[author]`). */
export const MOCK_USER_NAME = 'bad guy';
