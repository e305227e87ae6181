import { Type, type Static } from '@sinclair/typebox';
import { SNOWFLAKE_DIGITS } from './ids.js';
import { compile } from './validate.js';

/**
 * Positioned publications (DESIGN §10). Every push that comes from a stream carries three
 * top-level fields beside `event` and `data`: `stream`, `offset` (+1 per publication in that
 * stream) and `epoch` (changes whenever the stream's history is lost). A client that missed
 * pushes asks for them with `since: {"<stream>": {offset, epoch}}` and gets exactly those, in
 * offset order, before live ones, or `recovered: false` and reloads state.
 *
 * Streams:
 * - `room:<room>` a (non-user) room's broadcasts; `user:<id>` a user's messages (the user's
 *   private room is its own stream): both bound to the session, recovered by `auth`/`recover`;
 * - `guild:<id>` pool updates (`log_pool`) and `guild:<id>:logs` log entries (`log_other`),
 *   recovered by `spectate`. Private log entries are in the logs stream too and are simply
 *   absent for a connection that may not see them: offsets seen by one client may skip.
 */
const StreamName = Type.String({ minLength: 1, maxLength: 200 });

export const StreamPosition = Type.Object({
  offset: Type.Integer({ minimum: 0 }),
  epoch: Type.String({ minLength: 1, maxLength: 64 }),
});
export type StreamPosition = Static<typeof StreamPosition>;

/** `since`: the last position a client holds per stream. */
export const Since = Type.Record(StreamName, StreamPosition, { maxProperties: 16 });
export type Since = Static<typeof Since>;

/** `recover {since}`: recovers the streams bound to the session (its room's, its user's). */
export const RecoverRequest = Type.Object({ since: Since });
export type RecoverRequest = Static<typeof RecoverRequest>;
export const validateRecoverRequest = compile(RecoverRequest);

/** `history {stream, since?, limit?}`: stored publications, permission-checked like the stream. */
export const HistoryRequest = Type.Object({
  stream: StreamName,
  since: Type.Optional(StreamPosition),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
});
export type HistoryRequest = Static<typeof HistoryRequest>;
export const validateHistoryRequest = compile(HistoryRequest);

/** Per stream in a reply: true when every missed publication follows, false to reload state. */
export type Recovered = Record<string, boolean>;

/** The stream of a room: a user's private room `user:<id>` is its own stream, others `room:<room>`. */
export function roomStream(room: string): string {
  return room.startsWith('user:') ? room : `room:${room}`;
}
export const guildStream = (guildId: string) => `guild:${guildId}`;
export const guildLogsStream = (guildId: string) => `guild:${guildId}:logs`;
const guildStreamRe = new RegExp(`^guild:(${SNOWFLAKE_DIGITS})(:logs)?$`);

/** The guild of a `guildStream` or `guildLogsStream` name; undefined for any other stream. */
export function parseGuildStream(stream: string): { guildId: string; logs: boolean } | undefined {
  const m = guildStreamRe.exec(stream);
  return m ? { guildId: m[1]!, logs: m[2] !== undefined } : undefined;
}

/**
 * Adds `stream`, `offset` and `epoch` to a serialized client message (`{"event":..}`) by
 * splicing before its closing brace: no re-serialization of the payload.
 */
export function positioned(messageJson: string, stream: string, offset: number, epoch: string): string {
  return `${messageJson.slice(0, -1)},"stream":${JSON.stringify(stream)},"offset":${offset},"epoch":${JSON.stringify(epoch)}}`;
}
