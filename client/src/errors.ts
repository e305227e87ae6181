import type { ErrorCodeValue } from '@gateway/protocol/codes';

/**
 * The codes the SDK itself gives a `GatewayError`, beside the server's error catalogue
 * (`ErrorCode` in protocol/src/errors.ts, whose values they never take). None is sent on the wire.
 */
export const ClientErrorCode = {
  /** No reply within the request's timeout. */
  TIMEOUT: 'timeout',
  /** The socket closed while the request was in flight. */
  DISCONNECTED: 'disconnected',
  /** The client was closed by `close()` or after a terminal close code. */
  CLOSED: 'closed',
  /** Too many requests waiting for a connection (`maxQueued`). */
  QUEUE_FULL: 'queue_full',
  /** `getToken` threw or rejected (the connection is retried). */
  TOKEN: 'token',
  /** The server closed with a terminal close code (`closeCode` says which); the client stops. */
  TERMINAL_CLOSE: 'terminal_close',
} as const;
export type ClientErrorCodeValue = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** A request failed: an `error` reply (its catalogued `code`), a timeout or a disconnect. */
export class GatewayError extends Error {
  constructor(
    /** A code of the server's catalogue (`ErrorCode`) or of the SDK's own (`ClientErrorCode`). */
    readonly code: ErrorCodeValue | ClientErrorCodeValue,
    message: string,
    /** Text a UI can show, when the server sent one. */
    readonly human?: string,
    /** With `terminal_close`: the close code (`CloseCode`) that ended the session. */
    readonly closeCode?: number,
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}
