import { Redis, type RedisOptions } from 'ioredis';
import { redisRetryDelay } from '@gateway/server-kit';

/**
 * How connections behave while Redis is away:
 * - `queue` (the default): commands wait in ioredis' offline queue and are retried on the next
 *   connection, failing after `maxRetriesPerRequest` reconnection attempts (about 1 s with the
 *   back-off below) or `commandTimeout`. For reads and idempotent writes (store, coordination).
 * - `fail-fast`: no offline queue, no re-sending of commands that were in flight when the
 *   connection dropped: every command rejects at once while the connection is not ready, and one
 *   in flight rejects when the connection closes. For writes that must not be applied twice or
 *   late without the caller knowing (a publication: the publisher is told to retry, with its
 *   idempotency key, instead of waiting). The caller waits for the first `ready` itself.
 */
export type OfflineMode = 'queue' | 'fail-fast';

/** The one place the monolith's ioredis options live (STYLE rule 13). */
export function redisOptions(name: string, mode: OfflineMode = 'queue'): RedisOptions {
  return {
    connectionName: name,
    // Keep retrying forever; monoliths serve local rooms meanwhile.
    retryStrategy: redisRetryDelay,
    lazyConnect: false,
    // Subscriptions are re-issued by their owner on every 'ready' (ioredis' own forgets a
    // SUBSCRIBE that failed during an outage).
    autoResubscribe: false,
    // A Redis that accepts connections but does not answer must not hang a caller forever.
    commandTimeout: 5000,
    ...(mode === 'fail-fast'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false }
      : { enableOfflineQueue: true, maxRetriesPerRequest: 2 }),
  };
}

/**
 * Opens a connection to `url` (redis:// or rediss://) named `name` in CLIENT LIST. Connection
 * errors surface as status changes (`status`, 'ready'/'close' events), never as unhandled
 * 'error' events; the owner quits it.
 */
export function openRedis(url: string, name: string, mode: OfflineMode = 'queue'): Redis {
  const redis = new Redis(url, redisOptions(name, mode));
  redis.on('error', () => {});
  return redis;
}

/** Resolves on the connection's next 'ready' (now if it is ready), or rejects after `timeoutMs`. */
export function whenReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('end', onEnd);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const onEnd = () => done(new Error('redis connection closed'));
    const timer = setTimeout(() => done(new Error(`redis not ready within ${timeoutMs} ms`)), timeoutMs);
    redis.on('ready', onReady);
    redis.on('end', onEnd);
  });
}
