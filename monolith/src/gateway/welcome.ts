import { ServerEvent, type WelcomeData } from '@gateway/protocol';
import type { Conn } from '../rooms/rooms.js';

/** The frames that start a session on this monolith: `welcome`, and `resync` after a move. */

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
