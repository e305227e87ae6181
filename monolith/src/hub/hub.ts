import { positioned, type StreamPosition } from '@gateway/protocol';
import type { Log } from '@gateway/server-kit';
import type { Broker, HistoryPolicy, Publication, PublishResult } from './broker.js';
import { GapFill, type Live } from './gap-fill.js';
import { Recovery, streamGap, type Buffered, type Gap, type RecoveryRead } from './recovery.js';

export { MAX_HELD } from './gap-fill.js';

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
  /** Publications of a stream this monolith could not fan out (a gap given up; metrics). */
  observeLost?: (count: number) => void;
  /** The pause before the `attempt`th retry (from 0) of a failed gap read; tests shorten it. */
  retryDelayMs?: (attempt: number) => number;
  /**
   * Most live arrivals held per stream while a gap is filled (default MAX_HELD). Past it an
   * arrival is not kept: it is stored, and the fill reads it from history once it is through.
   */
  maxHeld?: number;
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
 *    fan-out that follows their arrival (or to the gap fill that reads them, when they never
 *    arrive); sending them too was a duplicate.
 *
 * The frontier starts at the stream's position read just before subscribing. Once the
 * subscription is live, a fill reads what was published in between from history and fans it
 * out, then the live arrivals that waited meanwhile: every publication after that first position
 * is fanned out once, including to a connection that joined live without a recovery. Later, a
 * fill runs whenever the broker re-subscribes the stream or a live publication skips offsets; a
 * gap it cannot read (history trimmed, or unreadable through every attempt) is given up with a
 * `stream_gap` push to the stream's channels, never silently.
 */
export class Hub {
  private readonly live = new Map<string, Live>();
  private readonly fills: GapFill;

  constructor(
    private readonly broker: Broker,
    private readonly fanOut: FanOut,
    private readonly routing: Routing,
    private readonly opts: HubOptions,
  ) {
    this.fills = new GapFill({
      broker,
      opts,
      isCurrent: (stream, live) => this.live.get(stream) === live,
      deliver: (stream, live, pub) => this.deliver(stream, live, pub),
      gap: (stream, live, gap) => this.gap(stream, live, gap),
    });
    broker.onPublication((stream, pub) => this.arrived(stream, pub));
    broker.onResubscribed((streams) => {
      for (const stream of streams) {
        const live = this.live.get(stream);
        if (live) void this.fills.fill(stream, live);
      }
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
    const existing = this.live.get(stream);
    if (existing) {
      existing.refs++;
      return;
    }
    // Live publications wait (held) until the first fill has fanned out what preceded them.
    const live: Live = { refs: 1, ready: Promise.resolve(), last: undefined, window: [], recoveries: new Set(), held: [], dropped: false, filling: false, again: false, retired: undefined };
    this.live.set(stream, live);
    live.ready = this.start(stream, live);
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
    const buffer: Buffered[] = [];
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
      if (!subscribed) throw new Error(`stream ${stream} is not live here yet`);
      const { read, missed } = await this.missed(live, stream, since);
      return new Recovery(read, missed, buffer, () => live.recoveries.delete(buffer), (pub) => this.positioned(stream, pub), (gap) => streamGap(stream, gap), () => live.last);
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

  /**
   * The first connection's subscription: the stream's position before subscribing is the
   * frontier; once live, the first fill fans out what was published in between.
   */
  private async start(stream: string, live: Live): Promise<void> {
    try {
      const { position } = await this.broker.history(stream, { since: undefined, limit: 0 });
      live.last ??= position;
    } catch (err) {
      // Then the fill reads the position once subscribed (what is stored between is left to history).
      this.opts.log.warn('cannot read a stream position before subscribing', { stream, err: (err as Error).message });
    }
    if (this.live.get(stream) !== live) return;
    try {
      await this.broker.subscribe(stream);
    } catch (err) {
      // Live arrivals must not wait for ever: the fill below still runs (and runs again on re-subscribe).
      this.opts.log.warn('stream subscribe failed; subscribed again when the broker is back', { stream, err: (err as Error).message });
    }
    await this.fills.fill(stream, live);
  }

  /** A publication from the broker. */
  private arrived(stream: string, pub: Publication): void {
    const live = this.live.get(stream);
    if (!live || pub.epoch === live.retired) return;
    if (live.held) {
      this.fills.hold(live, pub);
      return;
    }
    const last = live.last;
    if (last && pub.epoch === last.epoch) {
      if (pub.offset <= last.offset) return; // already fanned out (a fill read it first)
      if (pub.offset > last.offset + 1) {
        // Missed some (a broker blip the subscription did not notice): fill from history first.
        live.held = [pub];
        void this.fills.fill(stream, live);
        return;
      }
    }
    this.deliver(stream, live, pub);
  }

  private deliver(stream: string, live: Live, pub: Publication): void {
    const last = live.last;
    if (last && pub.epoch !== last.epoch) {
      // The stream's history was lost: positions start again; the window describes the old epoch.
      live.window = [];
      live.retired = last.epoch;
      this.opts.log.warn('stream epoch changed: its history was lost', { stream, from: last.epoch, to: pub.epoch });
    } else if (last && pub.offset > last.offset + 1) {
      this.gap(stream, live, { epoch: pub.epoch, from: last.offset + 1, to: pub.offset - 1 });
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
   * Publications this monolith cannot fan out: every connection of the stream is told, in order.
   * They are all on the channel named for the stream (private log spectators are on it too).
   */
  private gap(stream: string, live: Live, gap: Gap['gap']): void {
    live.window = [];
    this.opts.log.warn('stream publications lost: missed live, and history no longer holds them or cannot be read', { stream, ...gap });
    this.opts.observeLost?.(gap.to - gap.from + 1);
    for (const buffer of live.recoveries) buffer.push({ gap });
    this.fanOut.publish(stream, streamGap(stream, gap));
    if (live.last && live.last.epoch === gap.epoch && live.last.offset < gap.to) live.last = { offset: gap.to, epoch: gap.epoch };
  }

  /** Live arrivals held, over every stream (a fill in progress holds them; metrics, tests). */
  heldCount(): number {
    let n = 0;
    for (const live of this.live.values()) n += live.held?.length ?? 0;
    return n;
  }
}
