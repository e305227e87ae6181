import { Redis } from 'ioredis';
import { TopicHandlers, type Bus, type BusHandler } from './bus.js';

/**
 * Redis pub/sub bus. A subscriber connection cannot publish, so there are two: `pub` for
 * PUBLISH (and other commands) and `sub` for SUBSCRIBE. The handler map is the only record of
 * what should be subscribed: every time `sub` becomes ready it subscribes exactly those topics
 * (ioredis' own autoResubscribe is off, since it forgets a SUBSCRIBE that failed during an
 * outage). A fresh connection has no subscriptions, so nothing is ever subscribed twice.
 */
export class RedisBus implements Bus {
  private readonly handlers = new TopicHandlers();
  private readonly listeners: Array<(connected: boolean) => void> = [];
  private state = false;
  /** Subscribers waiting for the next successful resubscription. */
  private waiters: Array<() => void> = [];

  constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
  ) {
    sub.on('message', (topic: string, payload: string) => this.handlers.deliver(topic, payload));
    sub.on('ready', () => {
      const topics = this.handlers.topics();
      const done = () => {
        for (const wake of this.waiters.splice(0)) wake();
      };
      // Failure here means the connection dropped again; the next 'ready' retries.
      if (topics.length) sub.subscribe(...topics).then(done, () => {});
      else done();
    });
    const update = () => this.setConnected(pub.status === 'ready' && sub.status === 'ready');
    for (const r of [pub, sub]) {
      for (const ev of ['ready', 'close', 'end', 'reconnecting']) r.on(ev, update);
      // Connection errors surface as state changes (`connected`, /ready, metrics), not as throws.
      r.on('error', () => {});
    }
    update();
  }

  static connect(url: string): RedisBus {
    const options = {
      // Keep retrying forever with a capped back-off; monoliths serve local rooms meanwhile.
      retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 6), 5000),
      maxRetriesPerRequest: 2,
      enableOfflineQueue: true,
      lazyConnect: false,
      autoResubscribe: false,
      // A Redis that accepts connections but does not answer must not hang a caller forever.
      commandTimeout: 5000,
    };
    return new RedisBus(new Redis(url, { ...options, connectionName: 'gateway-pub' }), new Redis(url, { ...options, connectionName: 'gateway-sub' }));
  }

  get connected(): boolean {
    return this.state;
  }

  onConnectionChange(listener: (connected: boolean) => void): void {
    this.listeners.push(listener);
  }

  async publish(topic: string, payload: string): Promise<void> {
    await this.pub.publish(topic, payload);
  }

  async subscribe(topic: string, handler: BusHandler): Promise<void> {
    if (!this.handlers.add(topic, handler)) return;
    if (this.sub.status === 'ready') return void (await this.sub.subscribe(topic));
    // Not connected: the 'ready' handler subscribes every topic (queueing it too would double it).
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  async unsubscribe(topic: string, handler: BusHandler): Promise<void> {
    if (this.handlers.remove(topic, handler) && this.sub.status === 'ready') await this.sub.unsubscribe(topic);
  }

  topics(): string[] {
    return this.handlers.topics();
  }

  /** The publisher connection, for other commands (epochs). */
  get commands(): Redis {
    return this.pub;
  }

  async close(): Promise<void> {
    for (const wake of this.waiters.splice(0)) wake();
    await Promise.allSettled([this.pub.quit(), this.sub.quit()]);
  }

  private setConnected(value: boolean): void {
    if (value === this.state) return;
    this.state = value;
    for (const l of this.listeners) l(value);
  }
}
