import { isPrivateRoom, ownRoom, type TokenClaims } from '@gateway/protocol';

/** Who a verified token speaks for. */
export interface Identity {
  claims: TokenClaims;
  subject: string;
  guest: boolean;
}

/** Private rooms are only for their own subject; the balancer checks too (defence in depth). */
export function mayEnter(room: string, who: Identity): boolean {
  // A subject that cannot form a valid room of its own enters none (protocol ownRoom).
  const own = ownRoom(who.subject, who.guest);
  return own !== undefined && (!isPrivateRoom(room) || room === own);
}
