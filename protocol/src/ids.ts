/** A room name that passed `isRoomName`: a plain string cannot be passed where one is expected. */
export type RoomName = string & { readonly __brand: 'RoomName' };

/**
 * Room names are also uWS topic names on the balancer. They may not contain `/`, which is
 * reserved for channel topics (`<monolith id>/<channel>`), so a room can never alias a channel.
 */
export const ROOM_PATTERN = '^[A-Za-z0-9][A-Za-z0-9:_.\\-]{0,127}$';
const roomRe = new RegExp(ROOM_PATTERN);

export function isRoomName(value: unknown): value is RoomName {
  return typeof value === 'string' && roomRe.test(value);
}

/**
 * A Discord-style snowflake id (guilds, entities, log entries, users in paths): 1-20 decimal
 * digits. The one pattern the schemas, the HTTP routes and the dashboard's server all check.
 */
export const SNOWFLAKE_DIGITS = '[0-9]{1,20}';
export const SNOWFLAKE_PATTERN = `^${SNOWFLAKE_DIGITS}$`;
const snowflakeRe = new RegExp(SNOWFLAKE_PATTERN);

export function isSnowflake(value: unknown): value is string {
  return typeof value === 'string' && snowflakeRe.test(value);
}

/** Private rooms, `user:<sub>` and `guest:<jti>`, may only be entered by their own subject. */
export function isPrivateRoom(room: string): boolean {
  return room.startsWith('user:') || room.startsWith('guest:');
}

/**
 * The private room of a subject (`user:<sub>`, `guest:<jti>`), or undefined when the subject
 * cannot form a valid room name (a `/`, a newline, NUL, `../`, too long...): such a token is
 * refused (FORBIDDEN_ROOM), never turned into a topic or key that could alias a channel.
 */
export function ownRoom(subject: string, guest: boolean): RoomName | undefined {
  const room = `${guest ? 'guest' : 'user'}:${subject}`;
  return isRoomName(room) ? room : undefined;
}

/** The uWS topic a balancer uses for a monolith's channel; see DESIGN §3. */
export function channelTopic(monolith: string, channel: string): string {
  return `${monolith}/${channel}`;
}
