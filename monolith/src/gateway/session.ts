import { decodeJwt } from 'jose';
import { ServerEvent, isPrivateRoom, ownRoom, subjectOf, validateTokenClaims, type TokenClaims, type WelcomeData } from '@gateway/protocol';
import type { Conn } from '../rooms/rooms.js';

export interface Identity {
  claims: TokenClaims;
  subject: string;
  guest: boolean;
}

/**
 * Reads the claims of a token that arrived in a link envelope. The balancer verified its
 * signature and expiry before forwarding, and the link itself is authenticated with
 * LINK_SECRET, so here it is decoded, not re-verified; tokens a client hands the monolith
 * directly (elevation, HTTP) are verified in full.
 */
export function identify(token: string): Identity | undefined {
  let payload: unknown;
  try {
    payload = decodeJwt(token);
  } catch {
    return undefined;
  }
  if (!validateTokenClaims.check(payload)) return undefined;
  const { subject, guest } = subjectOf(payload);
  return subject ? { claims: payload, subject, guest } : undefined;
}

/** Private rooms are only for their own subject; the balancer checks too (defence in depth). */
export function mayEnter(room: string, who: Identity): boolean {
  return !isPrivateRoom(room) || room === ownRoom(who.subject, who.guest);
}

export function welcome(conn: Conn, monolith: string, requestId?: number | string): string {
  const data: WelcomeData = {
    id: conn.id,
    room: conn.room,
    user: { id: conn.subject, name: conn.claims.name ?? null, guest: conn.guest },
    permissions: { admin: conn.claims.admin === true, guilds: conn.claims.guilds ?? {} },
    monolith,
  };
  return JSON.stringify({ event: ServerEvent.WELCOME, _id: requestId, data });
}

export const RESYNC = JSON.stringify({ event: ServerEvent.RESYNC, data: { reason: 'room moved to this monolith' } });
