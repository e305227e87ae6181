import { ApiEvent, ErrorCode, ServerEvent, type ErrorCodeValue } from '@gateway/protocol';

/**
 * The architus dialect (`GET /authenticated`, or `/ws?dialect=architus`): the wire the real
 * architus dashboard speaks, mapped to and from the native protocol at this one boundary, so
 * monoliths and the native protocol know nothing of it.
 *
 * Frames are flat both ways: `{"_event": NAME, ...fields}`, no `data` envelope. Requests are
 * correlated by `_seq` (the current frontend; answered with `seq`) or `_id` (the socket.io-era
 * frontend; answered with `_id`). The correlation travels through the monolith inside the
 * native `_id` (`"s<seq>"` for `_seq`, the number itself for a numeric `_id`, `"i<id>"` for a
 * string one), so the codec keeps no state.
 * The generation of a request also picks its spelling of the missing ids: `nonexistent` (current)
 * or `nonexistant` (socket.io era).
 *
 * Mapping table (README "For architus users" has the same, for humans):
 *
 * | architus frame (in)                                            | native frame                                   |
 * |----------------------------------------------------------------|------------------------------------------------|
 * | `pool_request {type, guild_id\|guildId, ids}`                  | `pool_request {type*, guild_id, ids (strings)}`|
 * | `pool_all_request {type, guild_id\|guildId}`                   | `pool_all_request {type*, guild_id}`           |
 * | `ping {action, guildId, messageId, content\|emoji, allowedCommands, silent}`, `mock_user_event {...}` | `mock_user_event {action, guild_id, message_id, content\|emoji, allowed_commands, silent}` |
 * | `ping` without `action`                                        | `ping`                                         |
 * | `spectate {guild_id\|guildId}` (number or string)              | `spectate {guild_id, include_logs: true}`      |
 * | `request_elevation {token}`                                    | `request_elevation {token}`                    |
 * | any other `{_event, ...fields}`                                | `{event, data: fields}` (`guildId` → `guild_id`)|
 *
 * `type*`: `partial_guild` → `guild`, `partial_user` → `user`, `auto_response` → `autoResponse`;
 * other pool names as they are.
 *
 * | native frame (out)                                             | architus frame                                  |
 * |----------------------------------------------------------------|-------------------------------------------------|
 * | `pool_response {data, nonexistent, finished, ...}`             | `pool_response {data, nonexistent\|nonexistant, finished, ...}`; ids that are not 7-20 digits are left out of the missing list (the frontend drops a frame holding one) |
 * | `mock_bot_event {guild_id, actions[{message_id, targets_user}]}`| `mock_bot_event {guildId: number, actions[{messageId: number, targetsUser}]}` |
 * | `error` with `code, message, human` beside `event`               | `error {code: number, message, human, details: code name}` |
 * | `request_elevation {result}`                                    | `elevation_return {result, message}`            |
 * | any other `{event, data}`                                       | `{_event: event, ...data}` (non-object data as `data`) |
 */

export const ARCHITUS_DIALECT = 'architus';

/** Numeric error codes of the dialect (architus decodes `code` as a number; HTTP-like, as its backend sent). */
export const ARCHITUS_ERROR_CODE: Record<ErrorCodeValue, number> = {
  bad_request: 400,
  token_rejected: 401,
  forbidden: 403,
  not_found: 404,
  unknown_event: 405,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
};

/** Pool names of the architus frontend that differ from the native ones. */
export const ARCHITUS_POOL_NAMES: Readonly<Record<string, string>> = {
  partial_guild: 'guild',
  partial_user: 'user',
  auto_response: 'autoResponse',
};

/** The frontend decodes missing ids as snowflakes: 7 to 20 digits. */
const ID_RE = /^[0-9]{7,20}$/;
/** Native `_id`s the codec made: `s<seq>` for a `_seq`, `i<id>` for a string `_id` (numbers stay numbers). */
const SEQ_RE = /^s(-?[0-9]{1,16})$/;

type Frame = Record<string, unknown>;

/** An id field as a native string id (numbers from the frontend's mock guilds and messages). */
function idString(value: unknown): unknown {
  return typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
}

/** The number form of a native string id, for the frontend's numeric mock ids (left as is when not one). */
function idNumber(value: unknown): unknown {
  if (typeof value !== 'string' || !/^[0-9]{1,15}$/.test(value)) return value;
  return Number(value);
}

function correlation(frame: Frame): number | string | undefined {
  const seq = frame._seq;
  if (typeof seq === 'number' && Number.isSafeInteger(seq)) return `s${seq}`;
  const id = frame._id;
  if (typeof id === 'number') return id;
  // Prefixed so that a string `_id` that looks like `s5` is not answered as `seq: 5`.
  if (typeof id === 'string') return `i${id}`;
  return undefined;
}

function guildOf(frame: Frame): unknown {
  return idString(frame.guild_id ?? frame.guildId);
}

/** Fields of a frame without its envelope keys, `guildId`/`messageId`/`allowedCommands` in native spelling. */
function nativeFields(frame: Frame): Frame {
  const out: Frame = {};
  for (const key of Object.keys(frame)) {
    if (key === '_event' || key === '_seq' || key === '_id') continue;
    const value = frame[key];
    if (key === 'guildId') out.guild_id = idString(value);
    else if (key === 'messageId') out.message_id = idString(value);
    else if (key === 'allowedCommands') out.allowed_commands = value;
    else out[key] = value;
  }
  return out;
}

/**
 * An architus client frame (parsed, depth-checked) as a native one: `{event, _id?, data}`. A frame
 * without a string `_event` becomes an event the monolith answers `bad_request` for, so the
 * client hears about its mistake in its own dialect.
 */
export function decodeArchitus(frame: Frame): Frame {
  const event = frame._event;
  const _id = correlation(frame);
  const native = (name: string, data: unknown): Frame => (_id === undefined ? { event: name, data } : { event: name, _id, data });
  if (typeof event !== 'string') return native('', nativeFields(frame));
  switch (event) {
    case ApiEvent.POOL_REQUEST:
    case ApiEvent.POOL_ALL_REQUEST:
    case ApiEvent.POOL_SEARCH_REQUEST: {
      const data = nativeFields(frame);
      if (typeof data.type === 'string') data.type = ARCHITUS_POOL_NAMES[data.type] ?? data.type;
      if (data.guild_id !== undefined) data.guild_id = idString(data.guild_id);
      if (Array.isArray(data.ids)) data.ids = data.ids.map(idString);
      return native(event, data);
    }
    case 'ping':
      if (frame.action === undefined) return native('ping', nativeFields(frame));
      return native(ApiEvent.MOCK_USER_EVENT, nativeFields(frame));
    case ApiEvent.MOCK_USER_EVENT:
      return native(ApiEvent.MOCK_USER_EVENT, nativeFields(frame));
    case ApiEvent.SPECTATE:
      // The socket.io-era dashboard spectated with the bare guild id: only the id, logs included.
      return native(ApiEvent.SPECTATE, { guild_id: guildOf(frame), include_logs: true });
    default:
      return native(event, nativeFields(frame));
  }
}

/** `_id` of a native reply as the dialect's correlation field. */
function correlationOut(id: unknown): { key: 'seq' | '_id'; value: unknown } | undefined {
  if (id === undefined || id === null) return undefined;
  if (typeof id === 'string') {
    const m = SEQ_RE.exec(id);
    if (m) return { key: 'seq', value: Number(m[1]) };
    if (id.startsWith('i')) return { key: '_id', value: id.slice(1) };
  }
  return { key: '_id', value: id };
}

function isObject(value: unknown): value is Frame {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function mockBotEvent(data: Frame): Frame {
  const actions = Array.isArray(data.actions) ? data.actions : [];
  return {
    guildId: idNumber(data.guild_id),
    actions: actions.map((a: unknown) => {
      if (!isObject(a)) return a;
      const out: Frame = { action: a.action, messageId: idNumber(a.message_id) };
      if (a.content !== undefined) out.content = a.content;
      if (a.emoji !== undefined) out.emoji = a.emoji;
      if (a.targets_user !== undefined) out.targetsUser = a.targets_user;
      return out;
    }),
  };
}

/**
 * A native server frame (serialized) in the dialect; undefined when it is not a native frame
 * (nothing the gateway sends), which the caller drops.
 */
export function encodeArchitus(nativeText: string): string | undefined {
  let frame: unknown;
  try {
    frame = JSON.parse(nativeText);
  } catch {
    return undefined;
  }
  if (!isObject(frame) || typeof frame.event !== 'string') return undefined;
  const corr = correlationOut(frame._id);
  const data = frame.data;
  let event = frame.event;
  let fields: Frame;
  switch (event) {
    case ApiEvent.POOL_RESPONSE: {
      fields = isObject(data) ? { ...data } : {};
      const missing = Array.isArray(fields.nonexistent) ? fields.nonexistent.filter((id) => typeof id === 'string' && ID_RE.test(id)) : [];
      delete fields.nonexistent;
      fields[corr?.key === '_id' ? 'nonexistant' : 'nonexistent'] = missing;
      if (!Array.isArray(fields.data)) fields.data = [];
      if (typeof fields.finished !== 'boolean') fields.finished = true;
      break;
    }
    case ApiEvent.MOCK_BOT_EVENT:
      fields = isObject(data) ? mockBotEvent(data) : { actions: [] };
      break;
    case ServerEvent.ERROR: {
      // The native error's fields sit beside `event` (STYLE 13), not in `data`.
      const body = frame;
      const name = typeof body.code === 'string' ? body.code : ErrorCode.INTERNAL;
      fields = {
        code: Object.hasOwn(ARCHITUS_ERROR_CODE, name) ? ARCHITUS_ERROR_CODE[name as ErrorCodeValue] : 500,
        message: typeof body.message === 'string' ? body.message : name,
        human: typeof body.human === 'string' ? body.human : undefined,
        details: name,
      };
      break;
    }
    case ApiEvent.REQUEST_ELEVATION: {
      event = 'elevation_return';
      const ok = isObject(data) && data.result === true;
      fields = { result: ok, message: ok ? 'success' : 'Missing or invalid jwt' };
      break;
    }
    default:
      fields = isObject(data) ? { ...data } : data === undefined ? {} : { data };
  }
  // Envelope keys last: a payload field of the same name cannot hide them.
  const out: Frame = { ...fields, _event: event };
  if (corr) out[corr.key] = corr.value;
  return JSON.stringify(out);
}

/** uWS topic of a channel for the dialect's subscribers: fan-out publishes identical bytes per topic. */
export function architusTopic(topic: string): string {
  return `a|${topic}`;
}
