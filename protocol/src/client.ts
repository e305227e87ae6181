import { Type, type Static } from '@sinclair/typebox';
import { errorBody, type ErrorBody, type ErrorCodeValue } from './errors.js';
import { Since } from './streams.js';
import { compile } from './validate.js';

/** Client → balancer: the first frame of every session, and a token refresh or elevation later. */
export const AuthFrame = Type.Object({
  action: Type.Literal('auth'),
  token: Type.String({ minLength: 1, maxLength: 8192 }),
  // The room name's pattern is checked with the room policy (chooseRoom) so that an invalid
  // name is refused the same way (FORBIDDEN_ROOM) whether it came in the frame or the URL.
  room: Type.Optional(Type.String({ maxLength: 256 })),
  /** Echoed in the reply to a re-auth (`refreshed`, `welcome` or `error`). */
  _id: Type.Optional(Type.Union([Type.Integer(), Type.String({ maxLength: 64 })])),
  /**
   * Positions of the session's streams (its room's, its user's) from an earlier connection: the
   * owner replays what was missed after `welcome` (whose `recovered` says per stream), then live.
   */
  since: Type.Optional(Since),
});
export type AuthFrame = Static<typeof AuthFrame>;
export const validateAuthFrame = compile(AuthFrame);

/**
 * Client → balancer → monolith: every later frame. The balancer only checks it is a JSON object
 * and forwards the text verbatim; the monolith validates the event's own schema.
 */
export const AppMessage = Type.Object({
  event: Type.String({ minLength: 1, maxLength: 64 }),
  _id: Type.Optional(Type.Union([Type.Integer(), Type.String({ maxLength: 64 })])),
  data: Type.Optional(Type.Unknown()),
});
export const validateAppMessage = compile(AppMessage);

/** Requests may carry a correlation id; its reply echoes it. */
export type RequestId = number | string;

/** Balancer/monolith → client: the answer to a failed request (never ends the session). */
export interface B2CError extends ErrorBody {
  event: 'error';
  _id?: RequestId;
}

/**
 * The serialized `error` event, from the balancer and the monolith alike. `id` is echoed only
 * when it is a valid correlation id (a number or a string): it may come from an unvalidated frame.
 */
export function errorFrame(code: ErrorCodeValue, message: string, id?: unknown): string {
  const _id = typeof id === 'number' || typeof id === 'string' ? id : undefined;
  const frame: B2CError = { event: 'error', _id, ...errorBody(code, message) };
  return JSON.stringify(frame);
}
