import { ServerEvent, isPrivateRoom, ownRoom, type TokenClaims, type WelcomeData } from '@gateway/protocol';
import type { Conn } from '../rooms/rooms.js';

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

export function welcome(conn: Conn, monolith: string, requestId?: number | string, extra: Record<string, unknown> = {}): string {
  const data: WelcomeData = {
    id: conn.id,
    room: conn.room,
    user: { id: conn.subject, name: conn.claims.name ?? null, guest: conn.guest },
    permissions: { admin: conn.claims.admin === true, guilds: conn.claims.guilds ?? {} },
    monolith,
    ...extra,
  };
  return JSON.stringify({ event: ServerEvent.WELCOME, _id: requestId, data });
}

export const RESYNC = JSON.stringify({ event: ServerEvent.RESYNC, data: { reason: 'room moved to this monolith' } });
