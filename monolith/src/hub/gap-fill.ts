import type { StreamPosition } from '@gateway/protocol';
import { redisRetryDelay } from '@gateway/server-kit';
import type { Broker, Publication } from './broker.js';
import type { Buffered, Gap } from './recovery.js';
import type { HubOptions } from './hub.js';

/**
 * History reads a gap fill tries (backing off 100 ms, 200 ms, ... 1.6 s between them, about 3 s
 * plus the reads) before it gives up a gap that live publications wait behind: they go on after
 * a `stream_gap` push that tells the stream's connections what they cannot get. With nothing
 * waiting, the fill keeps trying (at most 5 s apart) for as long as the stream is subscribed.
 */
const FILL_ATTEMPTS = 6;

/** Live arrivals held per stream during a gap fill, by default (see HubOptions.maxHeld). */
export const MAX_HELD = 10_000;

/** The hub's state of one subscribed stream (hub.ts), which the gap fill reads and advances. */
export interface Live {
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

/** What the gap fill needs of the hub: its broker and options, and the hub's own fan-out. */
export interface FillHost {
  readonly broker: Broker;
  readonly opts: HubOptions;
  /** The stream is still subscribed with this state (not released, not acquired anew). */
  isCurrent(stream: string, live: Live): boolean;
  /** Fans out one publication past the frontier (and advances it). */
  deliver(stream: string, live: Live, pub: Publication): void;
  /** Gives up publications this monolith cannot fan out (a `stream_gap` push). */
  gap(stream: string, live: Live, gap: Gap['gap']): void;
}

/**
 * Filling a subscribed stream's gaps from history (the hub's other half): live arrivals wait in
 * `held` (bounded) while history after the frontier is read and delivered, then they follow, in
 * offset order and once each.
 */
export class GapFill {
  constructor(private readonly host: FillHost) {}

  /** Holds a live arrival while a fill runs; past the bound it is left to history (it is stored). */
  hold(live: Live, pub: Publication): void {
    const held = (live.held ??= []);
    if (held.length < (this.host.opts.maxHeld ?? MAX_HELD)) held.push(pub);
    else live.dropped = true;
  }

  /**
   * Reads history after the last position fanned out and delivers what was missed, then what
   * arrived meanwhile, in offset order and once each. One loop per stream: a failed read is
   * retried (live publications keep waiting), a gap the held arrivals still show is read again,
   * and only after FILL_ATTEMPTS failures is the gap given up (`stream_gap`). Runs when the
   * subscription first goes live, after the broker re-subscribes it, and when a live
   * publication skips offsets.
   */
  async fill(stream: string, live: Live): Promise<void> {
    live.held ??= [];
    if (live.filling) {
      live.again = true;
      return;
    }
    live.filling = true;
    let failures = 0;
    try {
      while (this.host.isCurrent(stream, live)) {
        live.again = false;
        let giveUp = false;
        try {
          await this.catchUp(stream, live);
        } catch (err) {
          failures++;
          // Give up only a gap that live publications wait behind (its extent is then known).
          giveUp = failures >= FILL_ATTEMPTS && (live.held?.length ?? 0) > 0;
          this.host.opts.log.warn(giveUp ? 'cannot fill a stream gap from history; giving it up' : 'cannot fill a stream gap from history; trying again', { stream, failures, err: (err as Error).message });
          if (!giveUp) {
            await new Promise((resolve) => setTimeout(resolve, (this.host.opts.retryDelayMs ?? redisRetryDelay)(failures - 1)).unref());
            continue;
          }
        }
        if (!this.host.isCurrent(stream, live)) return;
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
        const { position } = await this.host.broker.history(stream, { since: undefined, limit: 0 });
        const first = live.held?.find((p) => p.epoch === position.epoch);
        live.last ??= first && first.offset <= position.offset ? { offset: first.offset - 1, epoch: position.epoch } : position;
        return;
      }
      const h = await this.host.broker.history(stream, { since: from.offset, limit: this.host.opts.maxReplay });
      if (!this.host.isCurrent(stream, live) || live.last !== from) return;
      if (h.position.epoch !== from.epoch) {
        // The history was lost while the broker was away: the new epoch's publications follow.
        this.host.opts.log.warn('stream history lost while the broker was away', { stream, epoch: from.epoch, now: h.position.epoch });
        live.window = [];
        live.retired = from.epoch;
        live.last = { offset: 0, epoch: h.position.epoch };
        continue;
      }
      for (const pub of h.publications) if (pub.offset > live.last!.offset) this.host.deliver(stream, live, pub);
      if (live.last!.offset < h.position.offset && h.publications.length === 0) {
        // Stored once, but no longer kept (trimmed or expired before this read); up to the first
        // live arrival waiting, if one is (the rest follows).
        const next = live.held?.find((p) => p.epoch === from.epoch && p.offset > live.last!.offset);
        const to = next ? Math.min(h.position.offset, next.offset - 1) : h.position.offset;
        if (to > live.last!.offset) this.host.gap(stream, live, { epoch: from.epoch, from: live.last!.offset + 1, to });
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
      this.host.deliver(stream, live, pub);
    }
    live.held = undefined;
    // Arrivals left out past the bound come after the held ones: the caller reads them.
    const dropped = live.dropped;
    live.dropped = false;
    return dropped;
  }
}
