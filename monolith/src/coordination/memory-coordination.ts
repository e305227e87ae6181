import { ExpiringMap } from '../util/expiring-map.js';
import { checkTtlSeconds, type Coordination, type EpochSource } from './coordination.js';

/** A process-local counter: one monolith, so no per-room state is needed. */
export function memoryEpochs(): EpochSource {
  let counter = 0;
  return { next: async () => ++counter };
}

/**
 * Embedded mode (REDIS_URL unset): one monolith, so coordination is with itself. Every method
 * runs synchronously inside its promise, so each is atomic; expired keys are swept lazily.
 */
export class MemoryCoordination implements Coordination {
  readonly epochs = memoryEpochs();
  private readonly once = new ExpiringMap<string, true>();
  /** Registry member → expiry (ms since the epoch). */
  private readonly registry = new Map<string, number>();

  async consumeOnce(key: string, ttlSeconds: number): Promise<boolean> {
    checkTtlSeconds(ttlSeconds);
    const now = Date.now();
    if (this.once.get(key, now)) return false;
    this.once.set(key, true, now + ttlSeconds * 1000, now);
    return true;
  }

  async announce(member: string, ttlMs: number): Promise<void> {
    const now = Date.now();
    this.registry.set(member, now + ttlMs);
    for (const [m, until] of this.registry) if (until <= now) this.registry.delete(m);
  }

  async withdraw(member: string): Promise<void> {
    this.registry.delete(member);
  }

  async members(): Promise<string[]> {
    const now = Date.now();
    return [...this.registry].filter(([, until]) => until >= now).map(([m]) => m);
  }

  async close(): Promise<void> {}
}
