/**
 * Socket.IO 4 with the Redis adapter: bench/peers/socketio.mjs, one or two processes sharing
 * rooms through Redis, websocket transport only. Fed by `@socket.io/redis-emitter`
 * (`emitter.to(room).emit('m', payload)`), as a backend service would publish to it.
 */
import { Redis } from 'ioredis';
import { Emitter } from '@socket.io/redis-emitter';
import { startPeerServers } from './peer-servers.mjs';
import { payload, socketioClient } from './wire.mjs';

export default {
  name: 'socketio',
  label: 'Socket.IO 4 + Redis adapter',

  start({ redisUrl, jwtSecret, balancers = 1, host = '127.0.0.1' }) {
    const redis = new Redis(redisUrl, { connectionName: 'bench-socketio-emitter' });
    const emitter = new Emitter(redis);
    const publisher = {
      async publish(room, payloadString) {
        emitter.to(room).emit('m', payloadString);
      },
      close: () => redis.disconnect(),
    };
    return startPeerServers({ name: 'socketio', count: balancers, redisUrl, jwtSecret, host, path: socketioClient.path, publisher });
  },

  client: socketioClient,
  payload,
};
