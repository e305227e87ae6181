import { randomBytes } from 'node:crypto';
import { ExpiringMap } from '../util/expiring-map.js';
import {
  checkHistoryPolicy,
  checkHistoryRead,
  IDEMPOTENCY_TTL_MS,
  STREAM_META_MIN_TTL_MS,
  type Broker,
  type HistoryResult,
  type Publication,
  type PublicationHandler,
  type PublishOptions,
  type PublishResult,
  type StreamPosition,
} from './broker.js';

interface StreamState {
  readonly epoch: string;
  offset: number;
  /** Stored publications, ascending; at most the latest policy's size. */
  history: Publication[];
  /** The latest publication's `ttlMs`: publications older than it are dropped. */
  ttlMs: number;
  readonly keys: ExpiringMap<string, StreamPosition>;
}

/**
 * The embedded broker (REDIS_URL unset): one monolith, streams in process memory, the same
 * semantics as the Redis one. Every method runs synchronously inside its promise, so a publish
 * (append, position, idempotency key) is atomic; delivery to the handler runs on a later
 * microtask, like a broker round trip (a publisher never re-enters itself), in offset order.
 *
 * Memory is bounded: a stream's state lives as long as its metadata would in Redis (at least
 * STREAM_META_MIN_TTL_MS after its last publication) and is swept lazily once expired; its
 * history holds at most `size` publications and its idempotency keys expire likewise.
 */
export class MemoryBroker implements Broker {
  private readonly states = new ExpiringMap<string, StreamState>();
  private readonly subscribed = new Set<string>();
  private handler: PublicationHandler = () => {};
  readonly connected = true;

  /** `now`: the clock (ms since the epoch); tests move it to expire metadata. */
  constructor(private readonly now: () => number = Date.now) {}

  async publish(stream: string, data: string, opts: PublishOptions): Promise<PublishResult> {
    checkHistoryPolicy(opts.history);
    const now = this.now();
    const state = this.state(stream, now);
    const key = opts.idempotencyKey;
    if (key !== undefined) {
      const seen = state.keys.get(key, now);
      if (seen) return { ...seen, duplicate: true };
    }
    const { size, ttlMs } = opts.history;
    const pub: Publication = { offset: ++state.offset, epoch: state.epoch, time: now, data };
    state.ttlMs = ttlMs;
    if (size === 0) state.history = [];
    else {
      state.history.push(pub);
      if (state.history.length > size) state.history.splice(0, state.history.length - size);
      dropExpired(state, now);
    }
    this.states.set(stream, state, now + Math.max(ttlMs, STREAM_META_MIN_TTL_MS), now);
    if (key !== undefined) state.keys.set(key, { offset: pub.offset, epoch: pub.epoch }, now + IDEMPOTENCY_TTL_MS, now);
    // Microtasks run in queue order, so delivery follows offset order.
    queueMicrotask(() => {
      if (this.subscribed.has(stream)) this.handler(stream, pub);
    });
    return { offset: pub.offset, epoch: pub.epoch, duplicate: false };
  }

  async history(stream: string, opts: { since?: number | undefined; limit: number }): Promise<HistoryResult> {
    const since = opts.since ?? 0;
    checkHistoryRead(opts.since, opts.limit);
    const now = this.now();
    const state = this.state(stream, now);
    dropExpired(state, now);
    const { history } = state;
    // Ascending offsets: binary search for the first one after `since`.
    let lo = 0;
    let hi = history.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (history[mid]!.offset <= since) lo = mid + 1;
      else hi = mid;
    }
    return { position: { offset: state.offset, epoch: state.epoch }, publications: history.slice(lo, lo + opts.limit) };
  }

  async subscribe(stream: string): Promise<void> {
    this.subscribed.add(stream);
  }

  async unsubscribe(stream: string): Promise<void> {
    this.subscribed.delete(stream);
  }

  onPublication(handler: PublicationHandler): void {
    this.handler = handler;
  }

  onConnectionChange(): void {}

  /** Never: in-process subscriptions are never lost. */
  onResubscribed(): void {}

  streams(): string[] {
    return [...this.subscribed];
  }

  /** Streams whose state is held, expired ones not yet swept included (tests, metrics). */
  get heldStreams(): number {
    return this.states.size;
  }

  async close(): Promise<void> {
    this.subscribed.clear();
  }

  /** The stream's live state; a new one (new epoch, offset 0) if it has none or it expired. */
  private state(stream: string, now: number): StreamState {
    let state = this.states.get(stream, now);
    if (!state) {
      state = { epoch: randomBytes(6).toString('base64url'), offset: 0, history: [], ttlMs: 1, keys: new ExpiringMap(64) };
      // A read alone keeps the position stable for as long as a publication would.
      this.states.set(stream, state, now + STREAM_META_MIN_TTL_MS, now);
    }
    return state;
  }
}

/** Drops the publications older than `ttlMs` (the oldest come first). */
function dropExpired(state: StreamState, now: number): void {
  const { history } = state;
  let drop = 0;
  while (drop < history.length && now - history[drop]!.time >= state.ttlMs) drop++;
  if (drop > 0) history.splice(0, drop);
}
