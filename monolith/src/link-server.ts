import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket } from 'ws';
import {
  LINK_AUTH_HEADER,
  LINK_BALANCER_HEADER,
  LINK_NONCE_HEADER,
  LINK_PROTOCOL_VERSION,
  validateB2M,
  type B2M,
  type Metrics,
} from '@gateway/protocol';
import { linkInitToken, safeEqual, type Log } from '@gateway/protocol/node';
import type { MonolithConfig } from './config.js';
import type { Admission } from './gateway/admission.js';
import type { LinkPeer, Rooms } from './rooms/rooms.js';
import type { Channels } from './rooms/channels.js';

export interface LinkServer {
  /** Listens for balancers; resolves with the bound port. */
  listen(host: string, port: number): Promise<number>;
  /** Tells every balancer to move this monolith's connections elsewhere; stops gossip. */
  drain(): void;
  close(): Promise<void>;
}

export interface LinkServerDeps {
  config: MonolithConfig;
  rooms: Rooms;
  channels: Channels;
  admission: Admission;
  metrics: Metrics;
  log: Log;
  /** The HTTP port announced in `init` (known once the HTTP server listens). */
  httpPort(): number;
}

const DRAIN_FRAME = JSON.stringify({ type: 'drain' });

class Peer implements LinkPeer {
  alive = true;
  private corked = false;
  private readonly uncork = () => {
    this.corked = false;
    socketOf(this.ws)?.uncork();
  };

  constructor(
    readonly id: string,
    readonly ws: WebSocket,
    private readonly out: { value: number },
  ) {}

  send(frame: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (!this.corked) {
      // Every frame of this event-loop turn leaves in one write instead of a syscall each.
      const socket = socketOf(this.ws);
      if (socket) {
        socket.cork();
        this.corked = true;
        setImmediate(this.uncork);
      }
    }
    this.ws.send(frame);
    this.out.value++;
  }
}

/** The TCP socket under a `ws` WebSocket (not part of its typed API). */
function socketOf(ws: WebSocket): { cork(): void; uncork(): void } | undefined {
  return (ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
}

/**
 * Accepts balancer links (DESIGN §3): checks LINK_SECRET on the upgrade, sends `init` with a
 * token bound to the balancer's nonce, then gossip, then handles frames in arrival order.
 */
export function createLinkServer(deps: LinkServerDeps): LinkServer {
  const { config, rooms, admission, metrics, log } = deps;
  const framesIn = metrics.counter('monolith_link_frames_in_total', 'Frames received from balancers.');
  const framesOut = metrics.counter('monolith_link_frames_out_total', 'Frames sent to balancers.');
  const rejected = metrics.counter('monolith_link_rejected_total', 'Link upgrades refused (bad LINK_SECRET).');
  const expected = `Bearer ${config.LINK_SECRET}`;
  // Balancers splice client text into envelopes only after checking it parses as JSON.
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024, skipUTF8Validation: true });
  const server = createServer((_req, res) => res.writeHead(426).end('balancer links only'));
  const peers = new Set<Peer>();
  let seq = 0;

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const auth = req.headers[LINK_AUTH_HEADER];
    const nonce = req.headers[LINK_NONCE_HEADER];
    if (req.url !== '/link' || typeof auth !== 'string' || !safeEqual(auth, expected) || typeof nonce !== 'string' || nonce.length < 16) {
      rejected.value++;
      log.warn('refused a link: bad LINK_SECRET or request', { from: req.socket.remoteAddress, url: req.url });
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, nonce, String(req.headers[LINK_BALANCER_HEADER] ?? 'unknown')));
  });

  function accept(ws: WebSocket, nonce: string, balancer: string): void {
    const peer = new Peer(`${balancer}#${++seq}`, ws, framesOut);
    peer.send(
      JSON.stringify({
        type: 'init',
        id: config.MONOLITH_ID,
        port: deps.httpPort(),
        token: linkInitToken(config.LINK_SECRET, nonce, config.MONOLITH_ID),
        version: LINK_PROTOCOL_VERSION,
      }),
    );
    peers.add(peer);
    rooms.addLink(peer);
    // Linked while draining (a balancer restarted or scaled up): it must not send rooms here.
    if (rooms.draining) peer.send(DRAIN_FRAME);
    log.info('balancer linked', { link: peer.id });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      framesIn.value++;
      let frame: unknown;
      try {
        frame = isBinary ? undefined : JSON.parse(data.toString('utf8'));
      } catch {
        frame = undefined;
      }
      if (!validateB2M.check(frame)) {
        log.warn('invalid link frame dropped', { link: peer.id, problem: validateB2M.explain(frame) });
        return;
      }
      handle(peer, frame);
    });
    ws.on('pong', () => (peer.alive = true));
    ws.on('error', (err) => log.debug('link error', { link: peer.id, err: err.message }));
    ws.on('close', () => {
      peers.delete(peer);
      const left = rooms.dropLink(peer);
      deps.channels.dropLink(peer);
      log.warn('balancer link closed; its connections left their rooms', { link: peer.id, left });
    });
  }

  function handle(peer: Peer, frame: B2M): void {
    switch (frame.type) {
      case 'join':
        admission.join(peer, frame.id, frame.room, frame.token, frame.rejoin === true, frame._id);
        return;
      case 'leave':
        admission.leave(frame.id);
        return;
      case 'message':
        admission.message(peer, frame);
        return;
    }
  }

  const heartbeat = setInterval(() => {
    // A balancer that missed a whole interval is gone (half-open TCP): drop it so its
    // connections leave their rooms.
    for (const peer of peers) {
      if (!peer.alive) {
        peer.ws.terminate();
        continue;
      }
      peer.alive = false;
      peer.ws.ping();
    }
  }, config.LINK_HEARTBEAT_MS);
  heartbeat.unref();
  // Periodic full room list: balancers repair any ownership they missed (DESIGN §4).
  const gossip = setInterval(() => rooms.toAllLinks(rooms.gossipFrame()), config.GOSSIP_INTERVAL_MS);
  gossip.unref();

  return {
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          const address = server.address();
          resolve(typeof address === 'object' && address ? address.port : port);
        });
      });
    },
    drain() {
      clearInterval(gossip);
      rooms.toAllLinks(DRAIN_FRAME);
    },
    async close() {
      clearInterval(heartbeat);
      clearInterval(gossip);
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
