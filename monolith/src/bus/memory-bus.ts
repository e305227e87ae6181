import { TopicHandlers, type Bus, type BusHandler } from './bus.js';

/**
 * The embedded bus: one process only. Used when REDIS_URL is unset so a single monolith runs
 * with nothing else installed; a second monolith would not see its messages.
 */
export class MemoryBus implements Bus {
  private readonly handlers = new TopicHandlers();
  readonly connected = true;

  async publish(topic: string, payload: string): Promise<void> {
    // Delivered on a later tick, like a broker round trip: a publisher never re-enters itself.
    queueMicrotask(() => this.handlers.deliver(topic, payload));
  }

  async subscribe(topic: string, handler: BusHandler): Promise<void> {
    this.handlers.add(topic, handler);
  }

  async unsubscribe(topic: string, handler: BusHandler): Promise<void> {
    this.handlers.remove(topic, handler);
  }

  topics(): string[] {
    return this.handlers.topics();
  }

  onConnectionChange(): void {}

  async close(): Promise<void> {}
}
