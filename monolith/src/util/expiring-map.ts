/**
 * A map whose entries expire at a given time (ms since the epoch, from the caller's clock), the
 * in-process stand-in for Redis keys with a TTL. An expired entry is never returned; memory is
 * bounded by sweeping lazily: a full sweep runs only when the map has doubled since the last
 * one, so its cost is amortized over the inserts (never a sweep per call, never a timer).
 */
export class ExpiringMap<K, V> {
  private readonly map = new Map<K, { value: V; expiresAt: number }>();
  private sweepAt: number;

  constructor(private readonly minSweep = 1024) {
    this.sweepAt = minSweep;
  }

  /** The live value, or undefined (an expired entry is dropped). */
  get(key: K, now: number): V | undefined {
    const entry = this.map.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > now) return entry.value;
    this.map.delete(key);
    return undefined;
  }

  /** Sets (or renews) an entry. */
  set(key: K, value: V, expiresAt: number, now: number): void {
    const entry = this.map.get(key);
    if (entry) {
      entry.value = value;
      entry.expiresAt = expiresAt;
      return;
    }
    this.map.set(key, { value, expiresAt });
    if (this.map.size >= this.sweepAt) {
      for (const [k, e] of this.map) if (e.expiresAt <= now) this.map.delete(k);
      this.sweepAt = Math.max(this.minSweep, this.map.size * 2);
    }
  }

  delete(key: K): void {
    this.map.delete(key);
  }

  /** Entries held, expired ones not yet swept included. */
  get size(): number {
    return this.map.size;
  }
}
