/** Publishing into a system through Redis the way its backend would. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Cluster, Redis } from 'ioredis';
import { rootDir } from './processes.mjs';
import { jsonMessage } from './wire.mjs';

/**
 * `PUBLISH <channelOf(room)> {"event":"m","data":<payload>}`: the bus format uws-raw and ws-loop
 * take (each forwards the text as is).
 * Returns `{ publish(room, payloadString), close() }`.
 */
export function redisPublisher(redisUrl, channelOf) {
  const redis = new Redis(redisUrl, { connectionName: 'bench-publisher' });
  return {
    async publish(room, payloadString) {
      await redis.publish(channelOf(room), jsonMessage(payloadString));
    },
    close: () => redis.disconnect(),
  };
}

/**
 * The gateway's positioned publishing straight to Redis (README, Delivery guarantees: "Services
 * that publish straight to Redis"): EVAL of the monolith's own PUBLISH_SCRIPT from the built
 * monolith/dist, so the bench runs the script the product runs (one copy of it), with the keys
 * and arguments RedisBroker.publish passes. `policy()` is the history policy `{size, ttlMs}` of
 * each publication (size 0: history off, positions still assigned). `target` is a standalone
 * URL, or `{ clusterNodes: "host:port,..." }` for Redis Cluster: SHARDED_PUBLISH_SCRIPT through
 * an ioredis Cluster client, which sends each publication to the primary of its stream's slot.
 * Returns `{ publish(stream, payloadString) → {offset, epoch}, close() }`.
 */
export async function streamPublisher(target, policy) {
  const dist = join(rootDir, 'monolith', 'dist', 'hub');
  const brokerJs = join(dist, 'redis-broker.js');
  if (!existsSync(brokerJs)) throw new Error(`${brokerJs} is missing: build with node scripts/run.mjs build`);
  const { PUBLISH_SCRIPT, SHARDED_PUBLISH_SCRIPT, streamKeys } = await import(pathToFileURL(brokerJs).href);
  const { IDEMPOTENCY_TTL_MS, STREAM_META_MIN_TTL_MS } = await import(pathToFileURL(join(dist, 'broker.js')).href);
  const connectionName = 'bench-stream-publisher';
  const cluster = typeof target === 'object' && target.clusterNodes;
  const redis = cluster
    ? new Cluster(target.clusterNodes.split(',').map((hp) => ({ host: hp.slice(0, hp.lastIndexOf(':')), port: Number(hp.slice(hp.lastIndexOf(':') + 1)) })), { redisOptions: { connectionName } })
    : new Redis(target, { connectionName });
  redis.defineCommand('benchPublish', { numberOfKeys: 2, lua: cluster ? SHARDED_PUBLISH_SCRIPT : PUBLISH_SCRIPT });
  return {
    async publish(stream, payloadString) {
      const k = streamKeys(stream);
      const { size, ttlMs } = policy();
      const [position] = await redis.benchPublish(k.meta, k.history, k.channel, jsonMessage(payloadString), size, ttlMs, Math.max(ttlMs, STREAM_META_MIN_TTL_MS), IDEMPOTENCY_TTL_MS);
      const space = position.indexOf(' ');
      return { offset: Number(position.slice(0, space)), epoch: position.slice(space + 1) };
    },
    close: () => redis.disconnect(),
  };
}
