/**
 * One client socket of a load-generator worker (worker.mjs): its identity, the system adapter's
 * client side that speaks for it, opening and waiting for the welcome, and what its frames and
 * its close mean for the accounting (worker-accounting.mjs), a reconnect storm's back-off among it.
 */
import { fullJitter } from '@gateway/protocol';
import { nowNs as now } from './clock.mjs';
import { readPosition, sinceOf } from './positions.mjs';
import { openWebSocket } from './rfc6455.mjs';
import { onDelivery, onPosition, onWelcomePositions, storm } from './worker-accounting.mjs';

/** Closes of sockets the worker did not end itself, by close code (reported by `status`). */
export const unexpectedCloses = {};

/** One client: its socket, identity and per-scenario state. */
export class Conn {
  constructor(index, group, target, token, room, client, options, track) {
    this.index = index;
    this.group = group;
    this.target = target; // { host, port, path, headers, localAddress, timeoutMs }
    this.token = token;
    this.room = room;
    this.client = client; // the adapter's client side: hello, classify, ping
    this.options = options; // per-group client options (e.g. a link secret), passed to classify
    this.track = track; // follow the session stream's position, reconnect with since
    /** @type {{ stream: string, offset: number, epoch: string } | undefined} */
    this.pos = undefined;
    this.recovered = false;
    this.attemptNs = 0;
    this.ws = null;
    this.welcomed = false;
    this.closing = false;
    this.onWelcome = null; // resolver while connecting
    this.onPong = null; // ping loop callback
    this.everDropped = false;
    this.attempt = 0;
  }

  /** The upgrade headers this client sends (the adapter client's classify may need them). */
  get headers() {
    return this.target.headers;
  }

  /** Opens the socket and sends the hello frames; `onWelcome` fires on welcome or failure. */
  open() {
    this.welcomed = false;
    const handlers = { onText: (text, ws) => onText(text, ws, this), onClose: (code, _r, ws) => onClose(code, ws, this) };
    return openWebSocket(this.target, handlers).then((ws) => {
      this.ws = ws;
      const frames = this.client.hello(this.token, this.room, this.track ? sinceOf(this.pos) : undefined);
      ws.cork();
      for (const f of frames) ws.sendText(f);
      ws.uncork();
      return ws;
    });
  }
}

function onText(text, ws, conn) {
  const c = conn.client.classify(text, conn);
  switch (c.kind) {
    case 'delivery':
      if (conn.track) onPosition(conn, readPosition(text));
      return onDelivery(c);
    case 'pong':
      if (conn.onPong !== null) conn.onPong(c.id);
      return;
    case 'welcome':
      if (conn.track) onWelcomePositions(conn, text);
      conn.welcomed = true;
      if (conn.onWelcome !== null) conn.onWelcome(true);
      return;
    case 'reply':
      ws.cork();
      for (const f of c.frames) ws.sendText(f);
      ws.uncork();
      return;
    default:
  }
}

function onClose(code, ws, conn) {
  // A socket dropped on purpose (conn.ws cleared first) reports nothing.
  if (conn.ws !== ws) return;
  const wasWelcomed = conn.welcomed;
  conn.welcomed = false;
  conn.ws = null;
  if (conn.onWelcome !== null) return conn.onWelcome(false, code);
  if (conn.closing) return;
  if (storm.armed && conn.group === storm.group && wasWelcomed) {
    if (!conn.everDropped) storm.dropped++;
    else storm.droppedAgain[code] = (storm.droppedAgain[code] ?? 0) + 1;
    conn.everDropped = true;
    storm.down++;
    return stormReconnect(conn);
  }
  unexpectedCloses[code] = (unexpectedCloses[code] ?? 0) + 1;
}

/** Full-jitter exponential back-off, as the client SDK does (DESIGN §4): the protocol's fullJitter. */
function stormReconnect(conn) {
  const delay = fullJitter(conn.attempt, storm.base, storm.cap);
  setTimeout(async () => {
    if (conn.closing) return;
    storm.attempts++;
    const t0 = now();
    conn.attemptNs = t0;
    const ok = await connectOne(conn, storm.timeoutMs);
    if (conn.closing) return conn.ws?.destroy();
    if (ok === true) {
      conn.attempt = 0;
      storm.down--;
      storm.lastWelcomeNs = now();
      storm.welcomeHist.record((storm.lastWelcomeNs - t0) / 1000);
    } else {
      storm.failed++;
      storm.failures[ok] = (storm.failures[ok] ?? 0) + 1;
      conn.attempt++;
      stormReconnect(conn);
    }
  }, delay);
}

/** Waits for welcome after open(); false with a reason on any failure or timeout. */
export function connectOne(conn, timeoutMs) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(false, 'welcome timeout'), timeoutMs);
    const finish = (ok, why) => {
      clearTimeout(timer);
      conn.onWelcome = null;
      if (!ok && conn.ws) {
        conn.ws.destroy();
        conn.ws = null;
      }
      resolve(ok ? true : String(why));
    };
    conn.onWelcome = (ok, code) => finish(ok, `closed ${code} before welcome`);
    conn.open().catch((err) => finish(false, err.message));
  });
}
