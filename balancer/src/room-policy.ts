import { isPrivateRoom, isRoomName, ownRoom } from '@gateway/protocol';

/**
 * Which room a verified token may enter; undefined when the request is forbidden (DESIGN §2.3),
 * and for any room when the subject cannot form a valid private room of its own.
 */
export function chooseRoom(requested: string | undefined, subject: string, guest: boolean): string | undefined {
  const own = ownRoom(subject, guest);
  if (own === undefined) return undefined;
  if (requested === undefined) return own;
  if (!isRoomName(requested)) return undefined;
  if (isPrivateRoom(requested)) return requested === own ? requested : undefined;
  return requested;
}
