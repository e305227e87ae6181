/** Stream helpers for e2e tests (DESIGN §10: every push comes from a positioned stream). */
import type { Redis } from 'ioredis';
import { ApiEvent } from '@gateway/protocol';
// The monolith's own mapping of a stream to its keys and channel: one copy, never re-spelled here.
import { streamKeys } from '../../monolith/dist/hub/redis-broker.js';
import type { Msg, TestClient } from './client.js';

/** The Redis pub/sub channel a stream's publications travel on (`gw:{<stream>}`). */
export function channelOf(stream: string): string {
  return streamKeys(stream).channel;
}

/** How many connections (one per subscribed monolith) Redis counts on a stream's channel. */
export async function subscribers(redis: Redis, stream: string): Promise<number> {
  const [, n] = (await redis.pubsub('NUMSUB', channelOf(stream))) as [string, number];
  return Number(n);
}

/**
 * Monolith env for tests whose moved clients `recover` on `resync`: the fallback that joins a
 * re-joined session live without a `recover` (after RESYNC_SUBSCRIBE_MS) is pushed out of the
 * test's reach, so what such a client receives afterwards can only come through `recover`, and
 * a slow `recover` never meets the fallback's own recovery (answered `rate_limited`).
 */
export const RECOVER_ONLY: Readonly<Record<string, string>> = { RESYNC_SUBSCRIBE_MS: '600000' };

/**
 * After `resync`: `recover` with no positions (`since: {}`), which joins the session's stream
 * live from now, as a client with nothing to catch up on does. Resolves with the `recover`
 * reply (whose push frames, if any, follow it); throws on any other answer.
 */
export async function recoverLive(c: TestClient, id: number | string = 'recover', timeoutMs?: number): Promise<Msg> {
  const reply = await c.request(ApiEvent.RECOVER, id, { since: {} }, timeoutMs);
  if (reply.event !== ApiEvent.RECOVER) throw new Error(`recover on ${c.url} answered ${JSON.stringify(reply)}`);
  return reply;
}
