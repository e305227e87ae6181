/** Receives one published payload. Must not throw; runs synchronously in delivery order. */
export type BusHandler = (payload: string, topic: string) => void;

/**
 * The message bus between monoliths (DESIGN §1 "MQ"): topic pub/sub.
 *
 * Contract, checked by `describeBus` for every implementation:
 * - Delivery is at most once and only to handlers subscribed when the message arrives; nothing
 *   is stored for later subscribers or across an outage.
 * - Messages from one publisher on one topic arrive in publish order.
 * - Subscriptions are reference counted per topic: the broker subscription exists exactly while
 *   at least one handler is registered, so a monolith only receives topics it needs.
 * - After a lost broker connection, every topic with handlers is subscribed again once.
 */
export interface Bus {
  /** Publishes to every subscriber of `topic` on every monolith. Resolves when the broker took it. */
  publish(topic: string, payload: string): Promise<void>;
  /** Registers a handler; the first one for a topic subscribes upstream. Resolves once active. */
  subscribe(topic: string, handler: BusHandler): Promise<void>;
  /** Removes a handler; the last one for a topic unsubscribes upstream. Unknown handlers are ignored. */
  unsubscribe(topic: string, handler: BusHandler): Promise<void>;
  /** Topics with at least one handler. */
  topics(): string[];
  /** True while the broker connection is usable (always true in memory). */
  readonly connected: boolean;
  /** Called with the new state whenever `connected` changes. */
  onConnectionChange(listener: (connected: boolean) => void): void;
  close(): Promise<void>;
}

/** Handler bookkeeping shared by the implementations. */
export class TopicHandlers {
  private readonly map = new Map<string, Set<BusHandler>>();

  /** Adds; returns true when this is the topic's first handler. */
  add(topic: string, handler: BusHandler): boolean {
    let set = this.map.get(topic);
    const first = !set;
    if (!set) this.map.set(topic, (set = new Set()));
    set.add(handler);
    return first;
  }

  /** Removes; returns true when the topic has no handler left. */
  remove(topic: string, handler: BusHandler): boolean {
    const set = this.map.get(topic);
    if (!set || !set.delete(handler)) return false;
    if (set.size > 0) return false;
    this.map.delete(topic);
    return true;
  }

  deliver(topic: string, payload: string): void {
    const set = this.map.get(topic);
    if (!set) return;
    for (const handler of set) handler(payload, topic);
  }

  topics(): string[] {
    return [...this.map.keys()];
  }
}
