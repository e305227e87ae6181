#!/usr/bin/env node
/**
 * The ceiling: one uWebSockets.js process speaking the gateway's client protocol with nothing
 * between the socket and Redis. Auth is the gateway's (first frame `auth`, HS256 JWT via jose,
 * welcome of the same shape); each room is a uWS topic fed by one Redis channel `<room>`,
 * subscribed while the room has members here, and fanned out with one native `app.publish`.
 *
 *   PORT=0 HOST=127.0.0.1 JWT_SECRET=... REDIS_URL=redis://127.0.0.1:6379 node bench/peers/uws-raw.mjs
 *
 * With RELAY_BACKEND=<host:port> it is the front of the two-hop floor (bench/systems/uws-relay.mjs):
 * pings are not answered here but forwarded, as `<socket number>\t<frame>\n` lines written once per
 * event-loop turn, over one TCP connection to bench/peers/relay-backend.mjs, which parses each
 * request and writes the pong back the same way.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { CloseCode, CloseReason } from '@gateway/protocol';
import { announce, createVerifier, exitOnSignals, peerConfig, validRoom, welcomeData } from './auth.mjs';

/** The native binary, as balancer/src/uws.ts loads it: never the package's slow JS fallback. */
function loadNative() {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('uWebSockets.js');
  const binary = join(dirname(entry), '..', 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  if (!existsSync(binary)) {
    throw new Error(`uWebSockets.js has no native binary for Node ABI ${process.versions.modules} (Node ${process.versions.node}): ${binary}. Use Node.js 20.`);
  }
  return require(binary);
}

const uws = loadNative();
const config = peerConfig('uws-raw');
const verify = createVerifier(config.jwtSecret);
const serverName = `uws-raw-${process.pid}`;
const sub = new Redis(config.redisUrl, { connectionName: 'uws-raw-sub' });
sub.on('error', (err) => process.stderr.write(`uws-raw: redis ${err.message}\n`));

/** The relay's link to its backend (RELAY_BACKEND): lines out batched per turn, lines in split. */
function relayLink(address) {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  const socket = connect({ host, port, noDelay: true });
  const sockets = new Map();
  let out = [];
  let rest = '';
  socket.setEncoding('utf8');
  socket.on('error', (err) => {
    process.stderr.write(`uws-raw: relay backend ${err.message}\n`);
    process.exit(1);
  });
  socket.on('data', (chunk) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop();
    for (const line of lines) {
      const tab = line.indexOf('\t');
      sockets.get(Number(line.slice(0, tab)))?.send(line.slice(tab + 1), false);
    }
  });
  const flush = () => {
    socket.write(out.join(''));
    out = [];
  };
  return {
    ready: new Promise((resolve) => socket.once('connect', resolve)),
    add: (n, ws) => sockets.set(n, ws),
    remove: (n) => sockets.delete(n),
    forward(n, text) {
      if (out.length === 0) setImmediate(flush);
      out.push(`${n}\t${text}\n`);
    },
  };
}
const relay = process.env.RELAY_BACKEND ? relayLink(process.env.RELAY_BACKEND) : undefined;

/** Members per room on this process: the Redis channel is subscribed while this is above zero. */
const members = new Map();
let nextId = 0;

function joinRoom(room) {
  const n = (members.get(room) ?? 0) + 1;
  members.set(room, n);
  if (n === 1) sub.subscribe(room).catch((err) => process.stderr.write(`uws-raw: subscribe ${room}: ${err.message}\n`));
}

function leaveRoom(room) {
  const n = (members.get(room) ?? 1) - 1;
  if (n > 0) return void members.set(room, n);
  members.delete(room);
  sub.unsubscribe(room).catch(() => {});
}

function refuse(ws, name) {
  ws.end(CloseCode[name], CloseReason[name]);
}

const app = uws.App();
app.ws('/*', {
  maxPayloadLength: 128 * 1024,
  maxBackpressure: 2 * 1024 * 1024,
  closeOnBackpressureLimit: 0,
  idleTimeout: 120,
  sendPingsAutomatically: true,
  upgrade(res, req, context) {
    const user = { n: ++nextId, id: `${serverName}-${nextId}`, room: null, authing: false, closed: false };
    res.upgrade(user, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
  },
  message(ws, data, isBinary) {
    const user = ws.getUserData();
    // The relay front forwards what a joined client sends without parsing it (the gateway's
    // balancer parses and checks every frame: the floor does not). A raw newline would end the
    // line early, so such a frame is refused.
    if (relay && user.room !== null) {
      if (isBinary) return refuse(ws, 'MALFORMED_FRAME');
      const text = Buffer.from(data).toString('utf8');
      return text.includes('\n') ? refuse(ws, 'MALFORMED_FRAME') : relay.forward(user.n, text);
    }
    let msg;
    try {
      msg = isBinary ? undefined : JSON.parse(Buffer.from(data).toString('utf8'));
    } catch {
      msg = undefined;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return refuse(ws, 'MALFORMED_FRAME');
    if (user.room !== null) {
      if (msg.event === 'ping') ws.send(JSON.stringify({ event: 'pong', _id: msg._id, data: msg.data }));
      return;
    }
    // Frames sent while the token is being verified are dropped, as a peer has nothing to queue them for.
    if (user.authing) return;
    if (msg.action !== 'auth' || typeof msg.token !== 'string') return refuse(ws, 'AUTH_REQUIRED');
    if (!validRoom(msg.room)) return refuse(ws, 'FORBIDDEN_ROOM');
    user.authing = true;
    verify(msg.token).then(
      (claims) => {
        if (user.closed) return;
        user.room = msg.room;
        relay?.add(user.n, ws);
        ws.subscribe(msg.room);
        joinRoom(msg.room);
        ws.send(JSON.stringify({ event: 'welcome', _id: msg._id, data: welcomeData(user.id, msg.room, claims, serverName) }));
      },
      () => {
        if (!user.closed) refuse(ws, 'TOKEN_INVALID');
      },
    );
  },
  close(ws) {
    const user = ws.getUserData();
    user.closed = true;
    relay?.remove(user.n);
    if (user.room !== null) leaveRoom(user.room);
  },
});
app.any('/*', (res) => void res.writeStatus('404 Not Found').end('websocket only'));

sub.on('message', (room, message) => app.publish(room, message, false));

// Listen only once Redis is reachable, so a publish right after the ready line is delivered.
await new Promise((resolve) => sub.once('ready', resolve));
await relay?.ready;
app.listen(config.host, config.port, (token) => {
  if (!token) {
    process.stderr.write(`uws-raw: cannot listen on ${config.host}:${config.port}\n`);
    process.exit(1);
  }
  announce('uws-raw', uws.us_socket_local_port(token));
});
exitOnSignals();
