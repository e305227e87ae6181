/**
 * Bounds of the mock bot's memory (README "The mock bot"). Nothing a mock guild holds reaches the
 * store; all of it lives here, per (visitor, mock guild id), and is forgotten by these rules.
 * Every entry a guild keeps is counted in its budget, its record as a fixed cost and its text by
 * length, so a guild holds at most GUILD_BUDGET units plus one poll whatever is sent to it.
 */
export const MockLimits = {
  /** Guild states per monolith; the least recently used one is dropped beyond it. */
  MAX_GUILDS: 10_000,
  /**
   * Guild states per visitor (the front page uses 3); that visitor's least recently used one is
   * dropped beyond it, so one visitor cycling guild ids cannot push the others out.
   */
  MAX_GUILDS_PER_VISITOR: 8,
  /** A guild state untouched this long is forgotten (the front page never resets its guilds). */
  IDLE_TTL_MS: 30 * 60_000,
  /** Auto responses per guild; `!set` beyond it answers the real bot's limit text. */
  MAX_RESPONSES: 50,
  /**
   * What a guild may keep, in characters: auto responses (trigger, its matching form and response)
   * and polls and schedules (title and options), each also counting the cost of its record below.
   * A new poll or schedule forgets the oldest ones beyond it, a `!set` too before it is refused.
   */
  GUILD_BUDGET: 4096,
  /** Budget cost of an auto response's record, beyond its text. */
  RESPONSE_COST: 64,
  /** Budget cost of a remembered poll or schedule's record, beyond its text. */
  MESSAGE_COST: 128,
  /** Budget cost of one poll option's record (its vote and its place), beyond its text. */
  OPTION_COST: 16,
  MAX_TRIGGER_LENGTH: 100,
  MAX_RESPONSE_LENGTH: 500,
  /** A rendered auto response longer than this is replaced by a notice, as in architus. */
  MAX_RENDERED_LENGTH: 500,
} as const;

/** How the bot mentions the (only) mock user; the frontend rewrites it to the local user. */
export const MOCK_USER_MENTION = '<@%_CLIENT_ID_%>';
/** The mock user's display name (`[author]`). */
export const MOCK_USER_NAME = 'bad guy';

/**
 * A copy of `text` that holds only its own characters. A substring of a message (a regex capture,
 * a `split` piece) may be a view that keeps the whole message alive, up to 2,000 characters for
 * a few counted; what a guild keeps is copied. JSON round-trips every string exactly.
 */
export function ownCopy(text: string): string {
  return JSON.parse(JSON.stringify(text)) as string;
}
