import { Type, type Static } from '@sinclair/typebox';
import { Since } from './streams.js';
import { SNOWFLAKE_PATTERN } from './ids.js';
import { compile } from './validate.js';

/**
 * The gateway API's request payloads and pushes (DESIGN §5, seeds 000-002). Ids of guilds,
 * users and other entities are strings of digits: snowflakes exceed 2^53.
 */
const Snowflake = Type.String({ pattern: SNOWFLAKE_PATTERN });

export const POOL_TYPES = ['member', 'channel', 'role', 'user', 'customEmoji', 'guild', 'autoResponse', 'settingValue'] as const;
export type PoolType = (typeof POOL_TYPES)[number];
const PoolTypeSchema = Type.Union(POOL_TYPES.map((t) => Type.Literal(t)));

/** Pools that belong to one guild: requests need `guild_id` and the guild in the token. */
export const GUILD_POOLS: ReadonlySet<PoolType> = new Set(['member', 'channel', 'role', 'customEmoji', 'autoResponse', 'settingValue']);

/**
 * Most ids one `pool_request` may name. Larger requests are refused (bad_request); up to this
 * many are answered in several `pool_response` chunks of the same `_id`, the last `finished`.
 * The frame must also fit the balancer's MAX_PAYLOAD_BYTES (else it closes with 4108): about
 * 3,000 snowflake ids at the default 64 KiB.
 */
export const POOL_REQUEST_MAX_IDS = 10_000;

export const ElevationRequest = Type.Object({ token: Type.String({ minLength: 1, maxLength: 8192 }) });
export const validateElevationRequest = compile(ElevationRequest);

export const SpectateRequest = Type.Object({
  guild_id: Snowflake,
  include_logs: Type.Optional(Type.Boolean()),
  /** Positions of `guild:<id>` / `guild:<id>:logs` held from before: replayed, then live. */
  since: Type.Optional(Since),
});
export type SpectateRequest = Static<typeof SpectateRequest>;
export const validateSpectateRequest = compile(SpectateRequest);

export const PoolRequest = Type.Object({
  type: PoolTypeSchema,
  guild_id: Type.Optional(Snowflake),
  ids: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: POOL_REQUEST_MAX_IDS }),
});
export type PoolRequest = Static<typeof PoolRequest>;
export const validatePoolRequest = compile(PoolRequest);

export const PoolAllRequest = Type.Object({
  type: PoolTypeSchema,
  guild_id: Type.Optional(Snowflake),
  cursor: Type.Optional(Type.String({ maxLength: 256 })),
  /** Stop after this many entities: the last chunk is `finished` with the `cursor` to go on from. */
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
});
export type PoolAllRequest = Static<typeof PoolAllRequest>;
export const validatePoolAllRequest = compile(PoolAllRequest);

export const PoolSearchRequest = Type.Object({
  type: PoolTypeSchema,
  guild_id: Snowflake,
  query: Type.String({ maxLength: 100 }),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
});
export type PoolSearchRequest = Static<typeof PoolSearchRequest>;
export const validatePoolSearchRequest = compile(PoolSearchRequest);

/**
 * Every pool request ends with exactly one `finished: true` pool_response, refused or failed
 * ones too: a refusal (forbidden, bad guild_id, invalid request whose `type` is readable) or a
 * store failure sends the `error` frame first, then this final chunk with the same `_id`:
 * `data: []`, `nonexistent` the requested ids (pool_request; [] otherwise) and `error` the
 * error frame's code. A client waiting for `finished` can therefore always stop waiting.
 */
export interface PoolResponse {
  type: string;
  guild_id: string | null;
  data: Array<Record<string, unknown>>;
  nonexistent: string[];
  finished: boolean;
  /** pool_all_request: where the next chunk starts (null at the end). */
  cursor?: string | null;
  /** Only on the final chunk of a refused or failed request: the `error` frame's code. */
  error?: string;
}

/**
 * One of a user's Discord guilds (Discord's `GET /users/@me/guilds` partial guild), as the
 * backend gives them with `PUT /api/users/:id/guilds`: the guild pool adds those the bot is not
 * in (has_architus false) and takes `owner`, `permissions` (the Discord bitfield) and `features`
 * for those it is in. Discord sends `permissions` as a string of digits; both forms are taken.
 */
export const UserGuild = Type.Object({
  id: Snowflake,
  name: Type.String({ maxLength: 200 }),
  icon: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
  owner: Type.Boolean(),
  permissions: Type.Union([Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), Type.String({ pattern: '^[0-9]{1,16}$' })]),
  features: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 64 })),
});
export type UserGuild = Static<typeof UserGuild>;
/** Most guilds per user (Discord allows 200 with Nitro). */
export const MAX_USER_GUILDS = 500;
export const UserGuildsBody = Type.Array(UserGuild, { maxItems: MAX_USER_GUILDS });
export const validateUserGuildsBody = compile(UserGuildsBody);

export const InterpretRequest = Type.Object({
  guild_id: Snowflake,
  message_id: Snowflake,
  content: Type.String({ maxLength: 2000 }),
  added_reactions: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 20 })),
  removed_reactions: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 20 })),
  allowed_commands: Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { maxItems: 50 })),
  silent: Type.Optional(Type.Boolean()),
});
export type InterpretRequest = Static<typeof InterpretRequest>;
export const validateInterpretRequest = compile(InterpretRequest);

/**
 * Mock-bot action numbers, as in architus's log events (the frontend's `LogEvents`): what a mock
 * user does (send, react, unreact) and what the bot answers with (also edit, delete).
 */
export const MockAction = {
  MESSAGE_SEND: 3001,
  MESSAGE_EDIT: 3002,
  MESSAGE_DELETE: 72,
  REACTION_ADD: 3100,
  REACTION_REMOVE: 3101,
} as const;

/** A mock user's message or reaction in a mock guild (the front page's demo). */
export const MockUserEvent = Type.Union([
  Type.Object({
    action: Type.Literal(MockAction.MESSAGE_SEND),
    guild_id: Snowflake,
    message_id: Snowflake,
    content: Type.String({ maxLength: 2000 }),
    allowed_commands: Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { maxItems: 50 })),
    /** Set-up messages: the bot acts on them (an auto response is created) but answers nothing. */
    silent: Type.Optional(Type.Boolean()),
  }),
  Type.Object({
    action: Type.Union([Type.Literal(MockAction.REACTION_ADD), Type.Literal(MockAction.REACTION_REMOVE)]),
    guild_id: Snowflake,
    message_id: Snowflake,
    emoji: Type.String({ minLength: 1, maxLength: 64 }),
    allowed_commands: Type.Optional(Type.Array(Type.String({ maxLength: 32 }), { maxItems: 50 })),
    silent: Type.Optional(Type.Boolean()),
  }),
]);
export type MockUserEvent = Static<typeof MockUserEvent>;
export const validateMockUserEvent = compile(MockUserEvent);

/** One thing the mock bot does; `targets_user` on a removal: the user's reaction, not the bot's. */
export interface MockBotAction {
  action: (typeof MockAction)[keyof typeof MockAction];
  message_id: string;
  content?: string;
  emoji?: string;
  targets_user?: boolean;
}

/** Reply to `mock_user_event`. */
export interface MockBotEvent {
  guild_id: string;
  actions: MockBotAction[];
}

/**
 * A log entry as stored on `guild:<id>:logs` and pushed as `log_other`: ids are strings of
 * digits (never numbers: hoarfrost and snowflake ids exceed 2^53), `timestamp` milliseconds.
 * Other keys of the posted entry (architus's `discord_object`, ...) are kept.
 */
export const LogEntry = Type.Object({
  id: Snowflake,
  guild_id: Snowflake,
  /** architus action numbers; -1 for events without one (guild available, member join). */
  action_number: Type.Integer({ minimum: -1 }),
  agent_id: Type.Union([Snowflake, Type.Null()]),
  subject_id: Type.Union([Snowflake, Type.Null()]),
  private: Type.Boolean(),
  reversible: Type.Boolean(),
  timestamp: Type.Number(),
  discord_object: Type.Optional(Type.Union([Snowflake, Type.Null()])),
  data: Type.Optional(Type.Unknown()),
});
export type LogEntry = Static<typeof LogEntry>;
export const validateLogEntry = compile(LogEntry);

// A posted id: digits, or a JSON integer small enough to be exact (larger integers reach the
// validator as strings: the monolith's JSON body parser keeps them from being rounded).
const PostedId = Type.Union([Snowflake, Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })]);

/**
 * Body of `POST /api/guilds/:guild_id/logs`: a LogEntry, or the architus backend's own entry
 * (numeric ids, no `timestamp`), which `normalizeLogEntry` turns into one.
 */
export const LogEntryInput = Type.Object({
  id: PostedId,
  guild_id: PostedId,
  action_number: Type.Integer({ minimum: -1 }),
  agent_id: Type.Union([PostedId, Type.Null()]),
  subject_id: Type.Union([PostedId, Type.Null()]),
  private: Type.Boolean(),
  reversible: Type.Boolean(),
  timestamp: Type.Optional(Type.Number()),
  discord_object: Type.Optional(Type.Union([PostedId, Type.Null()])),
  data: Type.Optional(Type.Unknown()),
});
export type LogEntryInput = Static<typeof LogEntryInput>;
export const validateLogEntryInput = compile(LogEntryInput);

/** 2015-01-01T00:00:00Z: the epoch of Discord snowflakes and architus hoarfrost ids. */
export const SNOWFLAKE_EPOCH_MS = 1_420_070_400_000;

/** When a snowflake or hoarfrost id was made: `(id >> 22) + 2015-01-01`, in milliseconds. */
export function snowflakeTime(id: string): number {
  return Number(BigInt(id) >> BigInt(22)) + SNOWFLAKE_EPOCH_MS;
}

/**
 * The stored form of a posted entry: ids as strings, `timestamp` from the id when absent, every
 * other key kept as posted.
 */
export function normalizeLogEntry(input: LogEntryInput): LogEntry {
  const str = (v: string | number) => (typeof v === 'number' ? String(v) : v);
  const opt = (v: string | number | null) => (v === null ? null : str(v));
  const { discord_object: object, ...rest } = input;
  const id = str(input.id);
  const entry: LogEntry = {
    ...rest,
    id,
    guild_id: str(input.guild_id),
    agent_id: opt(input.agent_id),
    subject_id: opt(input.subject_id),
    timestamp: input.timestamp ?? snowflakeTime(id),
  };
  if (object !== undefined) entry.discord_object = opt(object);
  return entry;
}

/** An entity written through the HTTP API: any JSON object with a string id. */
export const EntityBody = Type.Object({ id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) });
export const validateEntityBody = compile(EntityBody);

/** Body of `POST /api/users/:id/messages`. */
export const UserMessageBody = Type.Object({ event: Type.String({ minLength: 1, maxLength: 64 }), data: Type.Optional(Type.Unknown()) });
export const validateUserMessageBody = compile(UserMessageBody);

/** Channels a spectator is subscribed to (link `subscribe` frames). */
export const guildChannel = (guildId: string) => `guild:${guildId}`;
export const guildLogsChannel = (guildId: string) => `guild:${guildId}:logs`;
export const guildPrivateLogsChannel = (guildId: string) => `guild:${guildId}:logs:private`;

