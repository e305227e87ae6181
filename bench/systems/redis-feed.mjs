/** Publishing into a system through Redis the way its backend would. */
import { Redis } from 'ioredis';
import { jsonMessage } from './wire.mjs';

/**
 * `PUBLISH <channelOf(room)> {"event":"m","data":<payload>}`: the gateway's bus format for room
 * broadcasts, which uws-raw and ws-loop also take (each forwards the text as is).
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
