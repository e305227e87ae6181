import type { Redis } from 'ioredis';
import { closeRedis } from '@gateway/server-kit/redis';

/**
 * Live subscriptions to Redis channels, for the Redis broker. Two kinds: one connection with
 * SUBSCRIBE (a standalone or sentinel-managed Redis: `PlainSubscriber`), or one connection per
 * cluster primary with SSUBSCRIBE (`ShardedSubscriber`, sharded-subscriber.ts).
 *
 * Contract: `wanted` channels are what should be live; the subscriber alone makes them so after
 * every loss (a dropped connection, a failover, a slot moved to another shard). Each time it has
 * made a lost channel live again it reports it once in `onResubscribed`, after the channel is
 * live: what was published while it was lost is for the caller to read from history.
 */
export interface ChannelSubscriber {
  /** Resolves once the channel is live (or the subscriber closed). */
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** Every wanted channel is live now. */
  readonly synced: boolean;
  onMessage(handler: (channel: string, payload: string) => void): void;
  /** The wanted channels. */
  channels(): string[];
  /** `synced` changed, or channels that had been lost are live again (possibly none). */
  onChange(listener: (synced: boolean, resubscribed: string[]) => void): void;
  close(): Promise<void>;
}

/** Listeners, waiters and the wanted set that both kinds keep. */
export abstract class SubscriberBase {
  protected readonly wanted = new Set<string>();
  protected handler: (channel: string, payload: string) => void = () => {};
  private readonly listeners: Array<(synced: boolean, resubscribed: string[]) => void> = [];
  private waiters: Array<() => void> = [];
  private reported = false;
  protected closed = false;

  abstract get synced(): boolean;

  onMessage(handler: (channel: string, payload: string) => void): void {
    this.handler = handler;
  }

  channels(): string[] {
    return [...this.wanted];
  }

  onChange(listener: (synced: boolean, resubscribed: string[]) => void): void {
    this.listeners.push(listener);
  }

  /** Delivers a message of a wanted channel (one in flight after unsubscribe is dropped). */
  protected deliver(channel: string, payload: string): void {
    if (this.wanted.has(channel)) this.handler(channel, payload);
  }

  /** Resolves once `done()` holds (checked at every change) or the subscriber closed. */
  protected async until(done: () => boolean): Promise<void> {
    while (!done() && !this.closed) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Tells listeners (when something changed) and wakes every waiter to check its condition. */
  protected changed(resubscribed: string[]): void {
    const synced = this.synced;
    if (synced !== this.reported || resubscribed.length) {
      this.reported = synced;
      for (const l of this.listeners) l(synced, resubscribed);
    }
    for (const wake of this.waiters.splice(0)) wake();
  }
}

/**
 * One connection, SUBSCRIBE per channel. On every 'ready' it subscribes exactly the wanted
 * channels (ioredis' autoResubscribe is off: it forgets a SUBSCRIBE that failed during an
 * outage) and reports all of them as resubscribed, since any might have missed publications.
 */
export class PlainSubscriber extends SubscriberBase implements ChannelSubscriber {
  private live = false;
  private wasLive = false;

  constructor(private readonly sub: Redis) {
    super();
    sub.on('message', (channel: string, payload: string) => this.deliver(channel, payload));
    sub.on('ready', () => this.resubscribe());
    for (const ev of ['close', 'end', 'reconnecting']) sub.on(ev, () => ((this.live = false), this.changed([])));
    if (sub.status === 'ready') this.resubscribe();
  }

  get synced(): boolean {
    return this.live;
  }

  async subscribe(channel: string): Promise<void> {
    if (this.wanted.has(channel) && this.live) return;
    this.wanted.add(channel);
    if (this.sub.status === 'ready') {
      try {
        return void (await this.sub.subscribe(channel));
      } catch {
        // The connection dropped meanwhile: the next 'ready' subscribes it.
      }
    }
    await this.until(() => this.live || !this.wanted.has(channel));
  }

  async unsubscribe(channel: string): Promise<void> {
    if (!this.wanted.delete(channel)) return;
    // Not connected: a new connection starts without it anyway.
    if (this.sub.status === 'ready') await this.sub.unsubscribe(channel).catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wanted.clear();
    this.changed([]);
    await closeRedis(this.sub);
  }

  private resubscribe(): void {
    const channels = [...this.wanted];
    const done = () => {
      // Dropped again before the reply: the next 'ready' repeats this.
      if (this.sub.status !== 'ready') return;
      this.live = true;
      // On the first connection nothing was lost: a channel wanted before it was never live.
      const lost = this.wasLive ? channels.filter((c) => this.wanted.has(c)) : [];
      this.wasLive = true;
      this.changed(lost);
    };
    if (channels.length) this.sub.subscribe(...channels).then(done, () => {});
    else done();
  }
}
