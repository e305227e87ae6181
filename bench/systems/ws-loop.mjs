/**
 * The seed's proof-of-concept design: bench/peers/ws-loop.mjs, a plain `ws` server looping over
 * a room's sockets for every message from its Redis subscriber. Fed by `PUBLISH <room>
 * {"event":"m",...}`, the very frame its clients receive.
 */
import { startPeerServers } from './peer-servers.mjs';
import { redisPublisher } from './redis-feed.mjs';
import { jsonClient, payload } from './wire.mjs';

export default {
  name: 'ws-loop',
  label: 'ws + loop over sockets (proof-of-concept design)',

  start({ redisUrl, jwtSecret, balancers = 1, host = '127.0.0.1' }) {
    const publisher = redisPublisher(redisUrl, (room) => room);
    return startPeerServers({ name: 'ws-loop', count: balancers, redisUrl, jwtSecret, host, path: '/ws', publisher });
  },

  client: jsonClient,
  payload,
};
