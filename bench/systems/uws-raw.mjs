/**
 * The ceiling: bench/peers/uws-raw.mjs, uWebSockets.js with the gateway's client protocol and a
 * Redis subscriber per room feeding native publishes. Fed by `PUBLISH <room> {"event":"m",...}`,
 * the very frame its clients receive (as the gateway's monolith forwards its bus payload as is).
 */
import { startPeerServers } from './peer-servers.mjs';
import { redisPublisher } from './redis-feed.mjs';
import { jsonClient, payload } from './wire.mjs';

export default {
  name: 'uws-raw',
  label: 'raw uWebSockets.js (ceiling)',

  /** `sharedPort`: every process on one port (SO_REUSEPORT, uWS's default on a fixed port), for the scale curve. */
  start({ redisUrl, jwtSecret, balancers = 1, host = '127.0.0.1', sharedPort = false }) {
    const publisher = redisPublisher(redisUrl, (room) => room);
    return startPeerServers({ name: 'uws-raw', count: balancers, redisUrl, jwtSecret, host, path: '/ws', publisher, sharedPort });
  },

  client: jsonClient,
  payload,
};
