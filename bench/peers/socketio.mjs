#!/usr/bin/env node
/**
 * Socket.IO 4 as most teams would deploy it: the Redis adapter (pub/sub clients via ioredis) so
 * several processes share rooms, websocket transport only (no polling, no sticky sessions),
 * auth in an `io.use` middleware verifying `handshake.auth.token` (HS256 via jose, as the
 * gateway) and joining `handshake.auth.room`. Messages are published from outside with
 * `@socket.io/redis-emitter` (`emitter.to(room).emit('m', payload)`).
 *
 * Events: server → client `welcome` (the gateway's welcome data), `m` (published payloads),
 * `pong` (the `ping` event's argument echoed back).
 *
 *   PORT=0 HOST=127.0.0.1 JWT_SECRET=... REDIS_URL=redis://127.0.0.1:6379 node bench/peers/socketio.mjs
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { announce, createVerifier, exitOnSignals, peerConfig, validRoom, welcomeData } from './auth.mjs';

const config = peerConfig('socketio');
const verify = createVerifier(config.jwtSecret);
const serverName = `socketio-${process.pid}`;
const pub = new Redis(config.redisUrl, { connectionName: 'socketio-pub' });
const sub = pub.duplicate({ connectionName: 'socketio-sub' });
for (const r of [pub, sub]) r.on('error', (err) => process.stderr.write(`socketio: redis ${err.message}\n`));

const server = createServer((_req, res) => res.writeHead(404).end('socket.io only'));
const io = new Server(server, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  adapter: createAdapter(pub, sub),
});

io.use((socket, next) => {
  const { token, room } = socket.handshake.auth ?? {};
  if (typeof token !== 'string') return next(new Error('first frame must be auth'));
  if (!validRoom(room)) return next(new Error('room not allowed'));
  verify(token).then(
    (claims) => {
      socket.data.claims = claims;
      socket.data.room = room;
      next();
    },
    () => next(new Error('invalid token')),
  );
});

io.on('connection', (socket) => {
  const { room, claims } = socket.data;
  socket.data.claims = undefined; // kept no longer than the welcome needs it, as the peers do
  socket.join(room);
  socket.emit('welcome', welcomeData(socket.id, room, claims, serverName));
  socket.on('ping', (data) => socket.emit('pong', data));
});

// Listen only once both Redis connections are up, so the adapter already receives broadcasts.
await Promise.all([pub, sub].map((r) => (r.status === 'ready' ? undefined : new Promise((resolve) => r.once('ready', resolve)))));
server.listen(config.port, config.host, () => announce('socketio', server.address().port));
server.on('error', (err) => {
  process.stderr.write(`socketio: cannot listen on ${config.host}:${config.port}: ${err.message}\n`);
  process.exit(1);
});
exitOnSignals();
