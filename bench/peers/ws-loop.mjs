#!/usr/bin/env node
/**
 * The seed's proof-of-concept design: a plain `ws` server, sockets kept in a Map room → Set,
 * one ioredis subscriber, and a JavaScript loop sending each published message to every member
 * (one `ws.send` and one frame encoding per socket). Client protocol as the gateway's.
 *
 *   PORT=0 HOST=127.0.0.1 JWT_SECRET=... REDIS_URL=redis://127.0.0.1:6379 node bench/peers/ws-loop.mjs
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { Redis } from 'ioredis';
import { CloseCode, CloseReason } from '@gateway/protocol';
import { announce, createVerifier, exitOnSignals, peerConfig, validRoom, welcomeData } from './auth.mjs';

const config = peerConfig('ws-loop');
const verify = createVerifier(config.jwtSecret);
const serverName = `ws-loop-${process.pid}`;
const sub = new Redis(config.redisUrl, { connectionName: 'ws-loop-sub' });
sub.on('error', (err) => process.stderr.write(`ws-loop: redis ${err.message}\n`));

/** room → its sockets here; the Redis channel `<room>` is subscribed while the set is non-empty. */
const rooms = new Map();
let nextId = 0;

function join(room, ws) {
  let set = rooms.get(room);
  if (!set) {
    set = new Set();
    rooms.set(room, set);
    sub.subscribe(room).catch((err) => process.stderr.write(`ws-loop: subscribe ${room}: ${err.message}\n`));
  }
  set.add(ws);
}

function leave(room, ws) {
  const set = rooms.get(room);
  if (!set || !set.delete(ws) || set.size > 0) return;
  rooms.delete(room);
  sub.unsubscribe(room).catch(() => {});
}

sub.on('message', (room, message) => {
  const set = rooms.get(room);
  if (set) for (const ws of set) ws.send(message);
});

function refuse(ws, name) {
  ws.close(CloseCode[name], CloseReason[name]);
}

const server = createServer((_req, res) => res.writeHead(404).end('websocket only'));
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 128 * 1024 });
wss.on('connection', (ws) => {
  const id = `${serverName}-${++nextId}`;
  let room = null;
  let authing = false;
  let closed = false;
  ws.on('message', (data, isBinary) => {
    let msg;
    try {
      msg = isBinary ? undefined : JSON.parse(data.toString('utf8'));
    } catch {
      msg = undefined;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return refuse(ws, 'MALFORMED_FRAME');
    if (room !== null) {
      if (msg.event === 'ping') ws.send(JSON.stringify({ event: 'pong', _id: msg._id, data: msg.data }));
      return;
    }
    if (authing) return;
    if (msg.action !== 'auth' || typeof msg.token !== 'string') return refuse(ws, 'AUTH_REQUIRED');
    if (!validRoom(msg.room)) return refuse(ws, 'FORBIDDEN_ROOM');
    authing = true;
    verify(msg.token).then(
      (claims) => {
        if (closed) return;
        room = msg.room;
        join(room, ws);
        ws.send(JSON.stringify({ event: 'welcome', _id: msg._id, data: welcomeData(id, room, claims, serverName) }));
      },
      () => {
        if (!closed) refuse(ws, 'TOKEN_INVALID');
      },
    );
  });
  ws.on('error', () => {});
  ws.on('close', () => {
    closed = true;
    if (room !== null) leave(room, ws);
  });
});

// Listen only once Redis is reachable, so a publish right after the ready line is delivered.
await new Promise((resolve) => sub.once('ready', resolve));
server.listen(config.port, config.host, () => announce('ws-loop', server.address().port));
server.on('error', (err) => {
  process.stderr.write(`ws-loop: cannot listen on ${config.host}:${config.port}: ${err.message}\n`);
  process.exit(1);
});
exitOnSignals();
