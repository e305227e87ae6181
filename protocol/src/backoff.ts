/**
 * Full-jitter exponential back-off (AWS architecture blog, "Exponential Backoff and Jitter"):
 * a random delay in [0, min(cap, base * 2^attempt)). Spreads a crowd of reconnecting peers
 * evenly instead of in synchronized waves.
 */
export function fullJitter(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
