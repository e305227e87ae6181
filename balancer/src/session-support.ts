import {
  ApiEvent,
  ErrorHuman,
  ServerEvent,
  isPrivateRoom,
  isRoomName,
  ownRoom,
  type ErrorCodeValue,
} from '@gateway/protocol';
import type { Session } from './client-session.js';
import type { WebSocket } from './uws.js';

/** Pure helpers of the session logic: room policy, reply frames, close reasons. */

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

/** RFC 6455 caps a close reason at 123 bytes; cut on a character boundary. */
export function closeReason(text: string): string {
  if (Buffer.byteLength(text) <= 123) return text;
  let out = '';
  for (const ch of text) {
    if (Buffer.byteLength(out + ch) > 120) break;
    out += ch;
  }
  return out + '…';
}

/** Unsubscribes a socket from every channel topic (`<monolith>/<channel>`), keeping its room. */
export function dropChannels(ws: WebSocket<Session> | undefined): void {
  if (!ws) return;
  for (const topic of ws.getTopics()) if (topic.includes('/')) ws.unsubscribe(topic);
}

export function elevationResult(result: boolean, id: unknown): string {
  const _id = typeof id === 'number' || typeof id === 'string' ? id : undefined;
  return JSON.stringify({ event: ApiEvent.REQUEST_ELEVATION, _id, data: { result } });
}

export function errorFrame(code: ErrorCodeValue, message: string, id: unknown): string {
  const _id = typeof id === 'number' || typeof id === 'string' ? id : undefined;
  return JSON.stringify({ event: ServerEvent.ERROR, _id, code, message, human: ErrorHuman[code] });
}
