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
export const GUILD_POOLS: ReadonlySet<PoolType> = new Set(['member', 'channel', 'role', 'autoResponse', 'settingValue']);

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
  ids: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 1000 }),
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

/** A log entry, as published on bus topic `<guild_id>_logs` and pushed as `log_other`. */
export const LogEntry = Type.Object({
  id: Snowflake,
  guild_id: Snowflake,
  action_number: Type.Integer({ minimum: 0 }),
  agent_id: Type.Union([Snowflake, Type.Null()]),
  subject_id: Type.Union([Snowflake, Type.Null()]),
  private: Type.Boolean(),
  reversible: Type.Boolean(),
  timestamp: Type.Number(),
  data: Type.Optional(Type.Unknown()),
});
export type LogEntry = Static<typeof LogEntry>;
export const validateLogEntry = compile(LogEntry);

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

