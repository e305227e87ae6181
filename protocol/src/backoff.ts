/**
 * Capped exponential back-off without jitter: `min(cap, base * 2^attempt)`. For a single peer
 * retrying one server (a Redis connection), where there is no crowd to spread.
 */
export function exponential(attempt: number, baseMs: number, capMs: number): number {
  // 2^30 already exceeds any cap; the bound keeps a long outage's attempt count from overflowing.
  return Math.min(capMs, baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
}

/**
 * Full-jitter exponential back-off (AWS architecture blog, "Exponential Backoff and Jitter"):
 * a random delay in [0, min(cap, base * 2^attempt)). Spreads a crowd of reconnecting peers
 * evenly instead of in synchronized waves.
 */
export function fullJitter(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * exponential(attempt, baseMs, capMs));
}
