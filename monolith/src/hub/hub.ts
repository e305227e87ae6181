import { positioned, type StreamPosition } from '@gateway/protocol';
import type { Log } from '@gateway/server-kit';
import type { Broker, HistoryPolicy, Publication, PublishResult } from './broker.js';

/** Longest a recovery waits for a new stream's broker subscription before it reads history anyway. */
const SUBSCRIBE_WAIT_MS = 1000;

/** Where a publication of a stream is fanned out (a channel), and whether a connection may see it. */
export interface Routing {
  /** The channel a publication goes to; undefined drops it (malformed). */
  channelOf(stream: string, data: string): string | undefined;
  /** The history policy of a stream's family (rooms, users, guild pools, guild logs). */
  policyOf(stream: string): HistoryPolicy;
}

/** Fan-out to the balancers' channel subscribers (rooms/channels.ts). */
export interface FanOut {
  publish(channel: string, messageJson: string): number;
}

export interface HubOptions {
  /** Recent publications kept in memory per subscribed stream, for recoveries without a broker read. */
  windowSize: number;
  /** Most publications replayed to one connection per stream; a longer gap is not recovered. */
  maxReplay: number;
  log: Log;
  /** Seconds from a publication's storing (broker clock) to its fan-out here (metrics). */
  observeDelay?: (seconds: number) => void;
}

/** The outcome of reading a stream for one connection that asked to recover from a position. */
export interface RecoveryRead {
  stream: string;
  /** True when every publication after `since` follows (or `since` was not given: nothing missed). */
  recovered: boolean;
  /** The stream's position the replay starts from: the client's if recovered, else the current one. */
  position: StreamPosition;
}

interface Live {
  refs: number;
  /**
   * Settles once the broker subscription is active and the stream's position at that moment is
   * known (or either failed: the broker subscribes again on reconnect and the hub fills then).
   */
  readonly ready: Promise<void>;
  /**
   * The fan-out frontier: every publication up to it was fanned out here (or was stored before
   * the subscription went live: connections get it from history), every later one will be, once.
   */
  last: StreamPosition | undefined;
  window: Publication[];
  /** Recoveries in progress: live publications are buffered for them until they join. */
  readonly recoveries: Set<Publication[]>;
  /** Set while the hub reads history to fill a gap; live publications wait in it. */
  filling: Publication[] | undefined;
}

/**
 * The one fan-out primitive of the monolith (DESIGN §3, §10): streams of positioned, stored
 * publications (a Broker), reference-counted subscriptions to them while connections here need
 * them, an in-memory window of recent publications per stream, gap filling after a broker blip,
 * and per-connection recovery without gaps or duplicates:
 *
 * 1. the hub holds a live subscription to the stream and knows the last position it fanned out;
 * 2. `beginRecovery` starts buffering the stream's live publications for one connection and
 *    reads what it missed after `since` (window first, the broker if the window does not reach);
 * 3. `finish` unicasts that history up to the fan-out frontier, then the buffered publications
 *    with a higher offset, and only then does the caller send the `subscribe` frames: live
 *    fan-out after them reaches the socket once. Everything between the read and the subscribe
 *    is synchronous on this event loop, and link frames keep their order, which is what makes it
 *    race-free. A broker read can see publications stored but not yet arrived here (the live
 *    subscription lags the read): they are past the frontier, so `finish` leaves them to the
 *    fan-out that follows their arrival; sending them too was a duplicate.
 *
 * The frontier is set when the subscription goes live: publications arriving meanwhile wait
 * while the stream's current position is read, and only later ones are fanned out (earlier
 * ones were stored before anyone here could be subscribed; recoveries read them from history).
 */
export class Hub {
  private readonly live = new Map<string, Live>();

  constructor(
    private readonly broker: Broker,
    private readonly fanOut: FanOut,
    private readonly routing: Routing,
    private readonly opts: HubOptions,
  ) {
    broker.onPublication((stream, pub) => this.arrived(stream, pub));
    broker.onResubscribed((streams) => {
      for (const stream of streams) if (this.live.has(stream)) void this.fill(stream);
    });
  }

  get connected(): boolean {
    return this.broker.connected;
  }

  /** Stores and publishes; resolves with the position once stored (rejects if it was not). */
  publish(stream: string, messageJson: string, idempotencyKey?: string): Promise<PublishResult> {
    return this.broker.publish(stream, messageJson, { history: this.routing.policyOf(stream), idempotencyKey });
  }

  history(stream: string, since: number | undefined, limit: number) {
    return this.broker.history(stream, { since, limit });
  }

  /** A connection here needs the stream: the first one subscribes at the broker. */
  acquire(stream: string): void {
    const live = this.live.get(stream);
    if (live) {
      live.refs++;
      return;
    }
    const ready = this.broker
      .subscribe(stream)
      .then(
        () => this.fill(stream),
        (err: Error) => {
          this.opts.log.warn('stream subscribe failed; subscribed again when the broker is back', { stream, err: err.message });
          // Live arrivals must not wait for ever: the fill clears the wait (and fills again on re-subscribe).
          return this.fill(stream);
        },
      );
    // Live publications wait (filling) until the fill above has set the frontier.
    this.live.set(stream, { refs: 1, ready, last: undefined, window: [], recoveries: new Set(), filling: [] });
  }

  /** The last connection that needed the stream is gone: unsubscribe. */
  release(stream: string): void {
    const live = this.live.get(stream);
    if (!live || --live.refs > 0) return;
    this.live.delete(stream);
    this.broker.unsubscribe(stream).catch(() => {});
  }

  /** Streams subscribed here with their reference counts (metrics, tests). */
  counts(): Map<string, number> {
    return new Map([...this.live].map(([stream, l]) => [stream, l.refs]));
  }

  /**
   * Starts a recovery of an acquired stream for one connection: buffers live publications from
   * now on and reads what was missed after `since`. Call `finish` on the result without
   * awaiting anything in between.
   */
  async beginRecovery(stream: string, since: StreamPosition | undefined): Promise<Recovery> {
    const live = this.live.get(stream);
    if (!live) throw new Error(`stream ${stream} is not acquired`);
    const buffer: Publication[] = [];
    live.recoveries.add(buffer);
    try {
      // History is read only once live delivery is on: a publication stored between the read
      // and the subscription would otherwise reach neither, silently. A subscription still not
      // live after SUBSCRIBE_WAIT_MS (a broker outage; a cluster SSUBSCRIBE sent to a slot's old
      // owner, which ioredis answers only at its command timeout) fails the recovery, as a
      // failed history read would: the caller answers `unavailable` and the client retries.
      // The timer is cleared once the race is decided: one per join would otherwise outlive it by
      // up to SUBSCRIBE_WAIT_MS, with its closure and promise (a connect burst's memory).
      let timer: NodeJS.Timeout | undefined;
      const subscribed = await Promise.race([live.ready.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), SUBSCRIBE_WAIT_MS)).unref())]);
      clearTimeout(timer);
      if (!subscribed) throw new Error(`stream ${stream} is not subscribed yet`);
      const { read, missed } = await this.missed(live, stream, since);
      return new Recovery(read, missed, buffer, () => live.recoveries.delete(buffer), (pub) => this.positioned(stream, pub), () => live.last);
    } catch (err) {
      live.recoveries.delete(buffer);
      throw err;
    }
  }

  /** The serialized push of a publication: its message with `stream`, `offset`, `epoch`. */
  positioned(stream: string, pub: Publication): string {
    return positioned(pub.data, stream, pub.offset, pub.epoch);
  }

  channelOf(stream: string, data: string): string | undefined {
    return this.routing.channelOf(stream, data);
  }

  private async missed(live: Live, stream: string, since: StreamPosition | undefined): Promise<{ read: RecoveryRead; missed: Publication[] }> {
    const last = live.last;
    if (since === undefined) {
      // Nothing to replay: the position to start from is the latest (read once if unknown here).
      const position = last ?? (await this.broker.history(stream, { since: undefined, limit: 0 })).position;
      return { read: { stream, recovered: true, position }, missed: [] };
    }
    const window = live.window;
    if (last && last.epoch === since.epoch && since.offset <= last.offset && (since.offset === last.offset || (window.length > 0 && window[0]!.offset <= since.offset + 1))) {
      return { read: { stream, recovered: true, position: since }, missed: window.filter((p) => p.offset > since.offset) };
    }
    const h = await this.broker.history(stream, { since: since.offset, limit: this.opts.maxReplay });
    const top = h.position;
    const first = h.publications[0];
    const covered =
      top.epoch === since.epoch &&
      since.offset <= top.offset &&
      (since.offset === top.offset || (first !== undefined && first.offset === since.offset + 1 && h.publications.at(-1)!.offset === top.offset));
    if (!covered) return { read: { stream, recovered: false, position: top }, missed: [] };
    return { read: { stream, recovered: true, position: since }, missed: h.publications };
  }

  /** A publication from the broker. */
  private arrived(stream: string, pub: Publication): void {
    const live = this.live.get(stream);
    if (!live) return;
    if (live.filling) {
      live.filling.push(pub);
      return;
    }
    const last = live.last;
    if (last && pub.epoch === last.epoch) {
      if (pub.offset <= last.offset) return; // already fanned out (a fill read it first)
      if (pub.offset > last.offset + 1) {
        // Missed some (a broker blip the subscription did not notice): fill from history first.
        live.filling = [pub];
        void this.fill(stream);
        return;
      }
    }
    this.deliver(stream, live, pub);
  }

  private deliver(stream: string, live: Live, pub: Publication): void {
    if (live.last && pub.epoch !== live.last.epoch) {
      // The stream's history was lost: positions start again; the window describes the old epoch.
      live.window = [];
      this.opts.log.warn('stream epoch changed: its history was lost', { stream, from: live.last.epoch, to: pub.epoch });
    }
    live.last = { offset: pub.offset, epoch: pub.epoch };
    live.window.push(pub);
    if (live.window.length > this.opts.windowSize) live.window.shift();
    for (const buffer of live.recoveries) buffer.push(pub);
    const channel = this.routing.channelOf(stream, pub.data);
    if (channel !== undefined) this.fanOut.publish(channel, this.positioned(stream, pub));
    this.opts.observeDelay?.(Math.max(0, Date.now() - pub.time) / 1000);
  }

  /**
   * Reads history after the last position fanned out and delivers what was missed, then what
   * arrived meanwhile, in offset order and once each. Runs after the broker reconnects (the
   * subscription was down) and when a live publication skips offsets; and when the subscription
   * first goes live, where it only sets the frontier to the stream's current position.
   */
  private async fill(stream: string): Promise<void> {
    const live = this.live.get(stream);
    if (!live) return;
    live.filling ??= [];
    const from = live.last;
    let missed: Publication[] = [];
    try {
      if (from) {
        const h = await this.broker.history(stream, { since: from.offset, limit: this.opts.maxReplay });
        if (h.position.epoch === from.epoch) missed = h.publications;
        else this.opts.log.warn('stream history lost while the broker was away', { stream, epoch: from.epoch, now: h.position.epoch });
      } else {
        const { position } = await this.broker.history(stream, { since: undefined, limit: 0 });
        live.last ??= position;
      }
    } catch (err) {
      this.opts.log.warn('cannot fill a stream gap from history; delivering live', { stream, err: (err as Error).message });
    }
    if (this.live.get(stream) !== live) return;
    const waiting = live.filling ?? [];
    live.filling = undefined;
    for (const pub of [...missed, ...waiting]) {
      const last = live.last;
      if (last && pub.epoch === last.epoch && pub.offset <= last.offset) continue;
      this.deliver(stream, live, pub);
    }
  }
}

/** One connection's recovery of one stream, between the history read and its `subscribe`. */
export class Recovery {
  constructor(
    readonly read: RecoveryRead,
    private readonly missed: Publication[],
    private readonly buffer: Publication[],
    private readonly done: () => void,
    private readonly encode: (pub: Publication) => string,
    /** The hub's fan-out frontier now (Live.last). */
    private readonly frontier: () => StreamPosition | undefined = () => undefined,
  ) {}

  /**
   * Hands every missed publication, then every buffered live one after it, to `send` (those
   * `allowed` for the connection), in offset order and once each; stops buffering. The caller
   * subscribes the connection's channels right after, in the same turn.
   */
  finish(send: (pushJson: string) => void, allowed: (pub: Publication) => boolean = () => true): number {
    this.done();
    let last = this.read.position;
    const frontier = this.frontier();
    let sent = 0;
    for (const pub of [...this.missed, ...this.buffer]) {
      if (pub.epoch === last.epoch && pub.offset <= last.offset) continue;
      // Read from the broker ahead of its live arrival here: the fan-out brings it, after the subscribe.
      if (frontier && pub.epoch === frontier.epoch && pub.offset > frontier.offset) continue;
      last = { offset: pub.offset, epoch: pub.epoch };
      if (!allowed(pub)) continue;
      send(this.encode(pub));
      sent++;
    }
    return sent;
  }

  /** Stops buffering without sending (the connection left meanwhile). */
  abandon(): void {
    this.done();
  }
}
