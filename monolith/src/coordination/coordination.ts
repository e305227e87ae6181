/**
 * Room ownership epochs (DESIGN §4): a number that grows every time any monolith loads a room.
 * When two monoliths claim one room, balancers keep the claim with the older (smaller) epoch.
 * Epochs start at 1; a claim of 0 is malformed.
 */
export interface EpochSource {
  next(room: string): Promise<number>;
}

/**
 * What monoliths agree on through a shared backend, apart from streams (hub/) and entities
 * (store/): room epochs, the monolith registry the balancers discover links from, and
 * single-use keys. Embedded mode (one monolith) keeps them in process memory.
 *
 * Contract, checked by `describeCoordination` for every implementation:
 * - `epochs.next` returns a number greater than every one returned before, by any monolith
 *   sharing the backend, for any room. Only the order of two claims on one room matters, so one
 *   counter serves every room (Redis: one key, however many rooms were ever loaded). A counter
 *   that is lost (a Redis restarted without persistence) starts again from the server's clock
 *   in microseconds, so epochs taken after the loss still order after those taken before it.
 * - `consumeOnce` is true for the first call with a key, then false until `ttlSeconds` (a
 *   positive integer, else a RangeError) have passed since that first call; across every
 *   monolith sharing the backend. The key is used as is (callers namespace it, e.g.
 *   `gw:wstoken:<jti>`).
 * - `announce(member, ttlMs)` lists `member` in `members()` until `ttlMs` pass without another
 *   announce, and prunes members whose time passed; `withdraw` removes it at once. Members are
 *   `<monolith id> <link host:port>` (protocol/src/registry.ts).
 * - `close` releases what the implementation opened.
 */
export interface Coordination {
  readonly epochs: EpochSource;
  consumeOnce(key: string, ttlSeconds: number): Promise<boolean>;
  announce(member: string, ttlMs: number): Promise<void>;
  withdraw(member: string): Promise<void>;
  /** Unexpired registry members. */
  members(): Promise<string[]>;
  close(): Promise<void>;
}

export function checkTtlSeconds(ttlSeconds: number): void {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw new RangeError(`ttlSeconds must be a positive integer, got ${ttlSeconds}`);
}
