import { exponential } from '@gateway/protocol';

/** Redis connections (monolith and balancer alike) are retried forever, every 5 s at most. */
export function redisRetryDelay(attempt: number): number {
  return exponential(attempt, 100, 5000);
}
