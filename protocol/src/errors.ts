/**
 * Every error code an `error` event can carry (STYLE rule 1). An error answers one request and
 * never ends the session; ending a session is a close code (close-codes.ts).
 */
export const ErrorCode = {
  UNKNOWN_EVENT: 'unknown_event',
  BAD_REQUEST: 'bad_request',
  FORBIDDEN: 'forbidden',
  NOT_FOUND: 'not_found',
  RATE_LIMITED: 'rate_limited',
  TOKEN_REJECTED: 'token_rejected',
  UNAVAILABLE: 'unavailable',
  INTERNAL: 'internal',
} as const;

export type ErrorCodeName = keyof typeof ErrorCode;
export type ErrorCodeValue = (typeof ErrorCode)[ErrorCodeName];

/** Text a UI can show as is. */
export const ErrorHuman: Record<ErrorCodeValue, string> = {
  unknown_event: 'That action is not supported.',
  bad_request: 'The request was not understood.',
  forbidden: 'You do not have permission to do that.',
  not_found: 'That item does not exist.',
  rate_limited: 'Too many requests; slow down and try again.',
  token_rejected: 'Your sign-in could not be verified; your session is unchanged.',
  unavailable: 'The service is busy or restarting; try again shortly.',
  internal: 'Something went wrong on our side.',
};

/** A catalogued error code (e.g. one a thrown error or a received frame carries). */
export function isErrorCode(value: unknown): value is ErrorCodeValue {
  return typeof value === 'string' && Object.hasOwn(ErrorHuman, value);
}

/**
 * The one error shape (STYLE 13): the body of an HTTP problem response, and the fields of a
 * socket `error` event beside `event` and `_id` (client.ts `errorFrame`).
 */
export interface ErrorBody {
  code: ErrorCodeValue;
  message: string;
  human: string;
}

export function errorBody(code: ErrorCodeValue, message: string): ErrorBody {
  return { code, message, human: ErrorHuman[code] };
}
