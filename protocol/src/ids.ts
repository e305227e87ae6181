/** Branded identifiers: a plain string cannot be passed where one of these is expected. */
export type ConnectionId = string & { readonly __brand: 'ConnectionId' };
export type RoomName = string & { readonly __brand: 'RoomName' };
export type MonolithId = string & { readonly __brand: 'MonolithId' };
export type ChannelName = string & { readonly __brand: 'ChannelName' };

/**
 * Room names are also uWS topic names on the balancer. They may not contain `/`, which is
 * reserved for channel topics (`<monolith id>/<channel>`), so a room can never alias a channel.
 */
export const ROOM_PATTERN = '^[A-Za-z0-9][A-Za-z0-9:_.\\-]{0,127}$';
const roomRe = new RegExp(ROOM_PATTERN);

export function isRoomName(value: unknown): value is RoomName {
  return typeof value === 'string' && roomRe.test(value);
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
