/**
 * Streams behind one interface (DESIGN §10; the model is centrifuge's broker): positioned,
 * stored publications with history, and live delivery to the monoliths that subscribe.
 *
 * Contract, checked by `describeBroker` for every implementation:
 * - `publish` appends to the stream's history and delivers to subscribers as one atomic step per
 *   stream: a publication that is delivered is stored (while history is on), one that resolves
 *   is both, and one that rejects is neither (the publisher may retry: nothing was acknowledged).
 * - Offsets start at 1 and grow by exactly 1 per publication of a stream, whoever publishes,
 *   also under concurrent publishers on several monoliths.
 * - A stream's epoch stays the same while its history persists, and changes whenever the
 *   history (or the stream's metadata) is lost: expired, deleted, a Redis restarted without
 *   persistence. Offsets may then start again at 1 under the new epoch.
 * - Subscribers receive a stream's publications in offset order. Delivery to a live subscription
 *   is at most once; after a subscription was lost (a dropped connection, a failover, a slot
 *   moved to another shard) the broker subscribes it again and then names it, once, to
 *   `onResubscribed` listeners, after which the hub reads history to fill what it missed.
 * - History keeps at most `size` publications and none older than `ttlMs`; `size: 0` keeps
 *   none (positions are still assigned). `history` returns publications with `offset > since`
 *   in ascending order, at most `limit`, and the stream's current position.
 * - An `idempotencyKey` seen for the same stream within `IDEMPOTENCY_TTL_MS` publishes nothing
 *   and resolves with the first publication's position and `duplicate: true`.
 */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

export interface Publication extends StreamPosition {
  /** Milliseconds since the epoch, when the broker stored it. */
  time: number;
  /** The client message, serialized (`{"event":..,"data":..}`). */
  data: string;
}

export interface HistoryPolicy {
  /** Publications kept; 0 keeps none. */
  size: number;
  /** How long a publication is kept (and the stream's metadata, at least this long). */
  ttlMs: number;
}

export interface PublishOptions {
  history: HistoryPolicy;
  idempotencyKey?: string | undefined;
}

export interface PublishResult extends StreamPosition {
  /** True when an earlier publication with the same idempotency key answered instead. */
  duplicate: boolean;
}

export interface HistoryResult {
  /** The stream's current top: the offset of its latest publication (0 if none) and its epoch. */
  position: StreamPosition;
  /** Stored publications with `offset > since`, ascending, at most `limit`. */
  publications: Publication[];
}

/** Receives every publication of every subscribed stream. Must not throw. */
export type PublicationHandler = (stream: string, publication: Publication) => void;

/** How long an idempotency key is remembered per stream. */
export const IDEMPOTENCY_TTL_MS = 10 * 60 * 1000;

export interface Broker {
  publish(stream: string, data: string, opts: PublishOptions): Promise<PublishResult>;
  /** Starts live delivery of a stream to the handler (not reference counted: the hub counts). */
  subscribe(stream: string): Promise<void>;
  unsubscribe(stream: string): Promise<void>;
  /** Stored publications after `since` (default: the oldest kept) and the current position. */
  history(stream: string, opts: { since?: number | undefined; limit: number }): Promise<HistoryResult>;
  /** Sets the one publication handler (the hub). */
  onPublication(handler: PublicationHandler): void;
  /** True while the broker connection is usable (always true in memory). */
  readonly connected: boolean;
  /** Called with the new state whenever `connected` changes; `true` after re-subscribing. */
  onConnectionChange(listener: (connected: boolean) => void): void;
  /** Called with streams whose lost subscription is live again (their gap is in history). */
  onResubscribed(listener: (streams: string[]) => void): void;
  /** Streams subscribed now. */
  streams(): string[];
  close(): Promise<void>;
}

/**
 * A stream's metadata (epoch, top offset) lives at least this long after its last publication,
 * and at least the history's `ttlMs`: positions stay valid through quiet periods, so a client
 * back after a quiet night is told "nothing missed", not "reload".
 */
export const STREAM_META_MIN_TTL_MS = 24 * 60 * 60 * 1000;

/** Throws a RangeError unless `size` is an integer >= 0 and `ttlMs` an integer >= 1. */
export function checkHistoryPolicy({ size, ttlMs }: HistoryPolicy): void {
  if (!Number.isInteger(size) || size < 0) throw new RangeError(`history size must be an integer >= 0, got ${size}`);
  if (!Number.isInteger(ttlMs) || ttlMs < 1) throw new RangeError(`history ttlMs must be an integer >= 1, got ${ttlMs}`);
}

/** Throws a RangeError unless `since` (when given) and `limit` are integers >= 0. */
export function checkHistoryRead(since: number | undefined, limit: number): void {
  if (since !== undefined && (!Number.isInteger(since) || since < 0)) throw new RangeError(`since must be an integer >= 0, got ${since}`);
  if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`limit must be an integer >= 0, got ${limit}`);
}
