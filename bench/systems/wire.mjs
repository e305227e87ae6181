/**
 * Client-side wire formats shared by the adapters. classify() runs per received frame in the
 * load generator, so it tests prefixes and slices numbers out by position; nothing is parsed as
 * JSON on that path.
 */

const PAD = 'x'.repeat(100);

/** `<seq>:<tNs>:xxx…`, 100 characters: a published payload whose seq and time read back by position. */
export function payload(seq, tNs) {
  const head = `${seq}:${tNs}:`;
  return head + PAD.slice(head.length);
}

/** Reads `<seq>:<tNs>:` starting at `at` into a delivery. */
function delivery(text, at) {
  const a = text.indexOf(':', at);
  const b = text.indexOf(':', a + 1);
  return { kind: 'delivery', seq: Number(text.slice(at, a)), t: Number(text.slice(a + 1, b)) };
}

const OTHER = Object.freeze({ kind: 'other' });
const WELCOME = Object.freeze({ kind: 'welcome' });

// The gateway's client protocol (also spoken by uws-raw and ws-loop): JSON objects whose first
// key is `event`, as the monolith and the peers serialize them.
const J_DELIVERY = '{"event":"m","data":"';
const J_PONG = '{"event":"pong","_id":';
const J_WELCOME = '{"event":"welcome"';

/** Classifies a gateway-protocol message starting at `at` (0 for a client frame). */
function classifyJson(text, at) {
  if (text.startsWith(J_DELIVERY, at)) return delivery(text, at + J_DELIVERY.length);
  if (text.startsWith(J_PONG, at)) return { kind: 'pong', id: parseInt(text.slice(at + J_PONG.length), 10) };
  if (text.startsWith(J_WELCOME, at)) return WELCOME;
  return OTHER;
}

/**
 * The gateway's client protocol: `auth` first frame (with `since`, the positions a reconnecting
 * client holds, when given), `{"event":"ping","_id":n}` round trips.
 */
export const jsonClient = {
  path: '/ws',
  hello(token, room, since) {
    return [JSON.stringify(since ? { action: 'auth', token, room, since } : { action: 'auth', token, room })];
  },
  classify(text) {
    return classifyJson(text, 0);
  },
  ping(id) {
    return `{"event":"ping","_id":${id}}`;
  },
};

/** The message a room broadcast carries on the wire: `{"event":"m","data":"<payload>"}`. */
export function jsonMessage(payloadString) {
  return JSON.stringify({ event: 'm', data: payloadString });
}

// ---- the gateway's link protocol, for sockets straight to the monolith ----

const L_MESSAGE = ',"message":';

/**
 * A link connection id for a client token. Each direct socket carries one connection, and both
 * its `join` and every `message` envelope must name the same id, unique on the monolith: the
 * token's signature tail is that (each load-generator client has its own token).
 */
export function linkConnectionId(token) {
  return `direct-${token.slice(-22)}`;
}

/**
 * One link frame classified by the client message it carries (`unicast` and `broadcast` frames);
 * `init`, `loaded`, `gossip` and the rest are `other`.
 */
export function classifyLink(text) {
  const at = text.indexOf(L_MESSAGE);
  return at < 0 ? OTHER : classifyJson(text, at + L_MESSAGE.length);
}

// ---- Socket.IO v5 over Engine.IO v4, raw websocket text frames ----

const S_DELIVERY = '42["m","';
const S_PONG = '42["pong",{"_id":';
const S_WELCOME = '42["welcome"';
// Engine.IO heartbeat: the server pings (`2`) every pingInterval; unanswered, it drops the socket.
const S_HEARTBEAT = Object.freeze({ kind: 'reply', frames: Object.freeze(['3']) });

/**
 * Socket.IO client. hello() sends the CONNECT packet with the auth payload right after the
 * upgrade, without waiting for the Engine.IO open packet (`0{...}`): engine.io creates the session
 * and writes its open packet in the upgrade callback, before any client frame can be read, and
 * classify() has no per-connection state (no token) to answer the open packet with.
 */
export const socketioClient = {
  path: '/socket.io/?EIO=4&transport=websocket',
  hello(token, room) {
    return [`40${JSON.stringify({ token, room })}`];
  },
  classify(text) {
    if (text.startsWith(S_DELIVERY)) return delivery(text, S_DELIVERY.length);
    if (text.startsWith(S_PONG)) return { kind: 'pong', id: parseInt(text.slice(S_PONG.length), 10) };
    if (text === '2') return S_HEARTBEAT;
    if (text.startsWith(S_WELCOME)) return WELCOME;
    return OTHER;
  },
  ping(id) {
    return `42["ping",{"_id":${id}}]`;
  },
};
