import { positioned, type StreamPosition } from '@gateway/protocol';
import { redisRetryDelay, type Log } from '@gateway/server-kit';
import type { Broker, HistoryPolicy, Publication, PublishResult } from './broker.js';
import { Recovery, streamGap, type Buffered, type Gap, type RecoveryRead } from './recovery.js';

/** Longest a recovery waits for a new stream's broker subscription before it reads history anyway. */
const SUBSCRIBE_WAIT_MS = 1000;

/**
 * History reads a gap fill tries (backing off 100 ms, 200 ms, ... 1.6 s between them, about 3 s
 * plus the reads) before it gives up a gap that live publications wait behind: they go on after
 * a `stream_gap` push that tells the stream's connections what they cannot get. With nothing
 * waiting, the fill keeps trying (at most 5 s apart) for as long as the stream is subscribed.
 */
const FILL_ATTEMPTS = 6;

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

/** Live arrivals held per stream during a gap fill, by default (see HubOptions.maxHeld). */
export const MAX_HELD = 10_000;

interface Live {
  refs: number;
  /**
   * Settles once the broker subscription is active and everything published after the position
   * read before subscribing has been fanned out or is waiting in `held` (or either step failed:
   * the broker subscribes again on reconnect and the hub fills then).
   */
  ready: Promise<void>;
  /**
   * The fan-out frontier: every publication up to it was fanned out here (or was stored before
   * the hub subscribed: connections get it from history), every later one will be, once.
   */
  last: StreamPosition | undefined;
  /** The latest fanned-out publications, contiguous offsets ending at `last`. */
  window: Publication[];
  /** Recoveries in progress: live publications (and gaps) are buffered for them until they join. */
  readonly recoveries: Set<Buffered[]>;
  /** Set while a fill reads history: live publications wait in it, in arrival order. */
  held: Publication[] | undefined;
  /** An arrival was left out of a full `held` (HubOptions.maxHeld): read it from history. */
  dropped: boolean;
  /** A fill loop runs for this stream (at most one). */
  filling: boolean;
  /** Asked to fill again while the loop ran (a re-subscription, a gap): it reads once more. */
  again: boolean;
  /** The epoch the stream had before its history was lost: its late publications are dropped. */
  retired: string | undefined;
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

  constructor(
    private readonly broker: Broker,
    private readonly fanOut: FanOut,
    private readonly routing: Routing,
    private readonly opts: HubOptions,
  ) {
    broker.onPublication((stream, pub) => this.arrived(stream, pub));
    broker.onResubscribed((streams) => {
      for (const stream of streams) {
        const live = this.live.get(stream);
        if (live) void this.fill(stream, live);
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
    await this.fill(stream, live);
  }

  /** A publication from the broker. */
  private arrived(stream: string, pub: Publication): void {
    const live = this.live.get(stream);
    if (!live || pub.epoch === live.retired) return;
    if (live.held) {
      // Bounded: one left out is stored, and read from history once the held ones are out.
      if (live.held.length < (this.opts.maxHeld ?? MAX_HELD)) live.held.push(pub);
      else live.dropped = true;
      return;
    }
    const last = live.last;
    if (last && pub.epoch === last.epoch) {
      if (pub.offset <= last.offset) return; // already fanned out (a fill read it first)
      if (pub.offset > last.offset + 1) {
        // Missed some (a broker blip the subscription did not notice): fill from history first.
        live.held = [pub];
        void this.fill(stream, live);
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

  /**
   * Reads history after the last position fanned out and delivers what was missed, then what
   * arrived meanwhile, in offset order and once each. One loop per stream: a failed read is
   * retried (live publications keep waiting), a gap the held arrivals still show is read again,
   * and only after FILL_ATTEMPTS failures is the gap given up (`stream_gap`). Runs when the
   * subscription first goes live, after the broker re-subscribes it, and when a live
   * publication skips offsets.
   */
  private async fill(stream: string, live: Live): Promise<void> {
    live.held ??= [];
    if (live.filling) {
      live.again = true;
      return;
    }
    live.filling = true;
    let failures = 0;
    try {
      while (this.live.get(stream) === live) {
        live.again = false;
        let giveUp = false;
        try {
          await this.catchUp(stream, live);
        } catch (err) {
          failures++;
          // Give up only a gap that live publications wait behind (its extent is then known).
          giveUp = failures >= FILL_ATTEMPTS && (live.held?.length ?? 0) > 0;
          this.opts.log.warn(giveUp ? 'cannot fill a stream gap from history; giving it up' : 'cannot fill a stream gap from history; trying again', { stream, failures, err: (err as Error).message });
          if (!giveUp) {
            await new Promise((resolve) => setTimeout(resolve, (this.opts.retryDelayMs ?? redisRetryDelay)(failures - 1)).unref());
            continue;
          }
        }
        if (this.live.get(stream) !== live) return;
        // Forced only when this pass gave up: a read that went through leaves any gap to the next.
        const gapped = this.releaseHeld(stream, live, giveUp);
        if (!gapped && !live.again) return;
        failures = 0; // read through, or given up: what is left is a new gap with its own attempts
      }
    } finally {
      live.filling = false;
    }
  }

  /** Reads and delivers history after the frontier, page by page, until it reaches the stream's top. */
  private async catchUp(stream: string, live: Live): Promise<void> {
    for (;;) {
      const from = live.last;
      if (!from) {
        // No position was read before subscribing: start at the one read now, or just before the
        // first live arrival if that is earlier (what was stored before it, recoveries read).
        const { position } = await this.broker.history(stream, { since: undefined, limit: 0 });
        const first = live.held?.find((p) => p.epoch === position.epoch);
        live.last ??= first && first.offset <= position.offset ? { offset: first.offset - 1, epoch: position.epoch } : position;
        return;
      }
      const h = await this.broker.history(stream, { since: from.offset, limit: this.opts.maxReplay });
      if (this.live.get(stream) !== live || live.last !== from) return;
      if (h.position.epoch !== from.epoch) {
        // The history was lost while the broker was away: the new epoch's publications follow.
        this.opts.log.warn('stream history lost while the broker was away', { stream, epoch: from.epoch, now: h.position.epoch });
        live.window = [];
        live.retired = from.epoch;
        live.last = { offset: 0, epoch: h.position.epoch };
        continue;
      }
      for (const pub of h.publications) if (pub.offset > live.last!.offset) this.deliver(stream, live, pub);
      if (live.last!.offset < h.position.offset && h.publications.length === 0) {
        // Stored once, but no longer kept (trimmed or expired before this read); up to the first
        // live arrival waiting, if one is (the rest follows).
        const next = live.held?.find((p) => p.epoch === from.epoch && p.offset > live.last!.offset);
        const to = next ? Math.min(h.position.offset, next.offset - 1) : h.position.offset;
        if (to > live.last!.offset) this.gap(stream, live, { epoch: from.epoch, from: live.last!.offset + 1, to });
        return;
      }
      if (live.last!.offset >= h.position.offset) return;
    }
  }

  /**
   * Delivers the held arrivals that follow the frontier without a gap. True when one is left
   * behind a gap (the caller reads history again; with `force`, the gap is given up instead), or
   * when arrivals were left out of a full `held` (they follow it: the caller reads them).
   */
  private releaseHeld(stream: string, live: Live, force: boolean): boolean {
    const held = live.held ?? [];
    for (let i = 0; i < held.length; i++) {
      const pub = held[i]!;
      const last = live.last;
      if (pub.epoch === live.retired) continue;
      if (last && pub.epoch === last.epoch) {
        if (pub.offset <= last.offset) continue;
        if (pub.offset > last.offset + 1 && !force) {
          live.held = held.slice(i);
          return true;
        }
      }
      this.deliver(stream, live, pub);
    }
    live.held = undefined;
    // Arrivals left out past the bound come after the held ones: the caller reads them.
    const dropped = live.dropped;
    live.dropped = false;
    return dropped;
  }

  /** Live arrivals held, over every stream (a fill in progress holds them; metrics, tests). */
  heldCount(): number {
    let n = 0;
    for (const live of this.live.values()) n += live.held?.length ?? 0;
    return n;
  }
}
