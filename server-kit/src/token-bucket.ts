/**
 * The token bucket (STYLE rule 13): a rate in tokens per second refilling up to `burst`. The
 * state is two plain fields, so a holder (a socket's session, a map entry per client address)
 * can carry them itself instead of allocating a bucket object; the functions are pure but for
 * updating `bucket`, and take the clock as an argument so tests need no timers.
 */
export interface Bucket {
  tokens: number;
  /** ms since the epoch of the last refill. */
  refilledAt: number;
}

/** A full bucket as of `now`. */
export function fullBucket(now: number, burst: number): Bucket {
  return { tokens: burst, refilledAt: now };
}

/** Refills `bucket` at `rate` tokens/s up to `burst`, then takes one; false (none taken) when empty. */
export function takeToken(bucket: Bucket, now: number, rate: number, burst: number): boolean {
  const tokens = Math.min(burst, bucket.tokens + ((now - bucket.refilledAt) * rate) / 1000);
  bucket.refilledAt = now;
  if (tokens < 1) {
    bucket.tokens = tokens;
    return false;
  }
  bucket.tokens = tokens - 1;
  return true;
}

/** True once `bucket` has refilled to `burst`: forgetting it and starting a new one is the same. */
export function isFull(bucket: Bucket, now: number, rate: number, burst: number): boolean {
  return bucket.tokens + ((now - bucket.refilledAt) * rate) / 1000 >= burst;
}

/** Milliseconds until `bucket` holds a whole token again (0 when it does): a `Retry-After`. */
export function msUntilToken(bucket: Bucket, now: number, rate: number, burst: number): number {
  const tokens = Math.min(burst, bucket.tokens + ((now - bucket.refilledAt) * rate) / 1000);
  return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) * 1000) / rate);
}
