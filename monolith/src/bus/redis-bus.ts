import { Redis } from 'ioredis';
import { TopicHandlers, type Bus, type BusHandler } from './bus.js';

/**
 * Redis pub/sub bus. A subscriber connection cannot publish, so there are two: `pub` for
 * PUBLISH (and other commands) and `sub` for SUBSCRIBE. ioredis re-subscribes every channel of
 * `sub` after a reconnect (autoResubscribe), which gives the "subscribed again once" contract.
 */
export class RedisBus implements Bus {
  private readonly handlers = new TopicHandlers();
  private readonly listeners: Array<(connected: boolean) => void> = [];
  private state = false;

  constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
  ) {
    sub.on('message', (topic: string, payload: string) => this.handlers.deliver(topic, payload));
    const update = () => this.setConnected(pub.status === 'ready' && sub.status === 'ready');
    for (const r of [pub, sub]) for (const ev of ['ready', 'close', 'end', 'reconnecting']) r.on(ev, update);
    update();
  }

  static connect(url: string): RedisBus {
    const options = {
      // Keep retrying forever with a capped back-off; monoliths serve local rooms meanwhile.
      retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 6), 5000),
      maxRetriesPerRequest: 2,
      enableOfflineQueue: true,
      lazyConnect: false,
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
    if (this.handlers.add(topic, handler)) await this.sub.subscribe(topic);
  }

  async unsubscribe(topic: string, handler: BusHandler): Promise<void> {
    if (this.handlers.remove(topic, handler)) await this.sub.unsubscribe(topic);
  }

  topics(): string[] {
    return this.handlers.topics();
  }

  /** The publisher connection, for other commands (epochs). */
  get commands(): Redis {
    return this.pub;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.pub.quit(), this.sub.quit()]);
  }

  private setConnected(value: boolean): void {
    if (value === this.state) return;
    this.state = value;
    for (const l of this.listeners) l(value);
  }
}
