/** A request failed: an `error` reply (its catalogued `code`), a timeout or a disconnect. */
export class GatewayError extends Error {
  constructor(
    /** An error code from the catalogue, or `timeout`, `disconnected`, `closed`, `queue_full`. */
    readonly code: string,
    message: string,
    /** Text a UI can show, when the server sent one. */
    readonly human?: string,
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}
