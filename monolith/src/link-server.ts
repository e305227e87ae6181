import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket } from 'ws';
import {
  CloseCode,
  CloseReason,
  LINK_BALANCER_HEADER,
  LINK_NONCE_HEADER,
  LINK_NONCE_PATTERN,
  LINK_PEER_ID_PATTERN,
  LINK_PROTOCOL_VERSION,
  validateB2M,
  validateHello,
  linkFrames,
  type B2M,
  encodeM2B,
} from '@gateway/protocol';
import { type Metrics, LinkWriter, linkProof, safeEqual, type LinkHandshake, type Log } from '@gateway/server-kit';
import type { MonolithConfig } from './config.js';
import type { Admission } from './gateway/admission.js';
import type { LinkPeer, Links } from './rooms/links.js';
import type { Ownership } from './rooms/ownership.js';
import type { Rooms } from './rooms/rooms.js';
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
  links: Links;
  ownership: Ownership;
  channels: Channels;
  admission: Admission;
  metrics: Metrics;
  log: Log;
  /** The HTTP port announced in `init` (known once the HTTP server listens). */
  httpPort(): number;
}

const DRAIN_FRAME = encodeM2B({ type: 'drain' });
/** Largest link frame (client frames are far smaller; the link port is internal, never public). */
const LINKED_MAX_PAYLOAD = 64 * 1024 * 1024;

class Peer implements LinkPeer {
  constructor(
    readonly id: string,
    readonly ws: WebSocket,
    readonly writer: LinkWriter,
    /** Unsent bytes below which a recovery's replay may go (well under the reset bound). */
    private readonly lowWater: number,
  ) {}

  send(frame: string): void {
    this.writer.send(frame);
  }

  drained(): Promise<void> {
    return this.writer.drained(this.lowWater);
  }
}

/**
 * Accepts balancer links (DESIGN §3): sends `init` with its own nonce and a proof of LINK_SECRET
 * bound to the balancer's nonce, requires the balancer's `hello` proof bound to ours as the first
 * frame, and only then treats the peer as a link (gossip, joins, messages, in arrival order).
 * Over TLS with a CA configured, a balancer must also present a certificate the CA signed.
 */
export function createLinkServer(deps: LinkServerDeps): LinkServer {
  const { config, rooms, links, ownership, admission, metrics, log } = deps;
  const linkRtt = metrics.histogram('gateway_monolith_link_rtt_seconds', 'Link heartbeat round trip (ping to pong) to balancers.');
  const framesIn = metrics.counter('gateway_monolith_link_frames_in_total', 'Frames received from balancers.');
  // Frames sent by links that are gone, plus the live links' writers (a counter never decreases).
  let framesOutClosed = 0;
  const rejected = metrics.counter('gateway_monolith_link_rejected_total', 'Link attempts refused (bad request, or a peer that failed to prove LINK_SECRET).');
  // Until its `hello` proof verifies, a peer gets nothing but `init`. Balancers splice client text
  // into envelopes only after checking it parses as JSON.
  const pending = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: LINKED_MAX_PAYLOAD, skipUTF8Validation: true });
  const tls = config.linkTls;
  const refuse: RequestListener = (_req, res) => res.writeHead(426).end('balancer links only');
  const server = tls.cert
    ? createTlsServer({ cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: tls.ca !== undefined, rejectUnauthorized: tls.ca !== undefined }, refuse)
    : createServer(refuse);
  if (tls.cert) server.on('tlsClientError', (err: Error, socket: Duplex & { remoteAddress?: string }) => {
    rejected.value++;
    log.warn('refused a link: TLS handshake failed (no or untrusted client certificate?)', { from: socket.remoteAddress, err: err.message });
  });
  const peers = new Set<Peer>();
  const handshakes = new Set<WebSocket>();
  let seq = 0;

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const nonce = req.headers[LINK_NONCE_HEADER];
    const balancer = req.headers[LINK_BALANCER_HEADER];
    if (req.url !== '/link' || typeof nonce !== 'string' || !LINK_NONCE_PATTERN.test(nonce) || typeof balancer !== 'string' || !LINK_PEER_ID_PATTERN.test(balancer)) {
      rejected.value++;
      log.warn('refused a link: not a link request (path, nonce or balancer id header)', { from: req.socket.remoteAddress, url: req.url });
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    pending.handleUpgrade(req, socket, head, (ws) => challenge(ws, { balancerNonce: nonce, monolithNonce: randomBytes(18).toString('base64url'), balancerId: balancer, monolithId: config.MONOLITH_ID }, req.socket.remoteAddress));
  });

  /** Sends `init` and waits for the balancer's proof; a peer that fails it is closed, never linked. */
  function challenge(ws: WebSocket, handshake: LinkHandshake, from: string | undefined): void {
    handshakes.add(ws);
    const fail = (why: string) => {
      if (!handshakes.delete(ws)) return;
      rejected.value++;
      log.warn('balancer failed link authentication; closing', { from, balancer: handshake.balancerId, why });
      ws.close(CloseCode.LINK_AUTH_FAILED, CloseReason.LINK_AUTH_FAILED);
      // A peer that does not complete the close handshake is cut.
      setTimeout(() => ws.terminate(), 1000).unref();
    };
    const timer = setTimeout(() => fail('no hello in time'), Math.max(1000, config.LINK_HEARTBEAT_MS));
    ws.once('message', (data: Buffer, isBinary: boolean) => {
      clearTimeout(timer);
      let hello: unknown;
      try {
        hello = isBinary ? undefined : JSON.parse(data.toString('utf8'));
      } catch {
        hello = undefined;
      }
      if (!validateHello.check(hello)) return fail('first frame was not hello');
      if (!safeEqual(hello.token, linkProof(config.LINK_SECRET, 'balancer', handshake))) return fail('wrong proof of LINK_SECRET');
      handshakes.delete(ws);
      ws.removeAllListeners();
      accept(ws, handshake.balancerId);
    });
    ws.on('error', (err) => log.debug('link error during handshake', { from, err: err.message }));
    ws.on('close', () => {
      clearTimeout(timer);
      // Closed by the peer before its hello: a balancer that refused our proof (LINK_SECRET differs).
      if (handshakes.delete(ws)) {
        rejected.value++;
        log.warn('link closed during authentication (the balancer refused our proof: LINK_SECRET differs?)', { from, balancer: handshake.balancerId });
      }
    });
    ws.send(
      encodeM2B({
        type: 'init',
        id: config.MONOLITH_ID,
        port: deps.httpPort(),
        nonce: handshake.monolithNonce,
        token: linkProof(config.LINK_SECRET, 'monolith', handshake),
        version: LINK_PROTOCOL_VERSION,
      }),
    );
  }

  function accept(ws: WebSocket, balancer: string): void {
    const id = `${balancer}#${++seq}`;
    // A balancer that stops reading (or answering pings) is dropped, so that its connections
    // leave their rooms and this process's memory stays bounded.
    const writer = new LinkWriter(ws, {
      maxBufferBytes: config.LINK_MAX_BUFFER_BYTES,
      heartbeatMs: config.LINK_HEARTBEAT_MS,
      onFailure: (reason) => log.warn('balancer link reset', { link: id, reason }),
      onRoundTrip: (seconds) => linkRtt.observe(seconds),
    });
    const peer = new Peer(id, ws, writer, Math.min(4 * 1024 * 1024, config.LINK_MAX_BUFFER_BYTES / 4));
    peers.add(peer);
    links.add(peer);
    ownership.greet(peer);
    // Linked while draining (a balancer restarted or scaled up): it must not send rooms here.
    if (ownership.draining) peer.send(DRAIN_FRAME);
    log.info('balancer linked', { link: peer.id });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        log.warn('invalid link frame dropped', { link: peer.id, problem: 'binary frame' });
        return;
      }
      // Link protocol 3: one message holds the frames of one of the balancer's event-loop turns.
      for (const text of linkFrames(data.toString('utf8'))) {
        framesIn.value++;
        let frame: unknown;
        try {
          frame = JSON.parse(text);
        } catch {
          frame = undefined;
        }
        if (!validateB2M.check(frame)) {
          log.warn('invalid link frame dropped', { link: peer.id, problem: validateB2M.explain(frame) });
          continue;
        }
        handle(peer, frame);
      }
    });
    ws.on('error', (err) => log.debug('link error', { link: peer.id, err: err.message }));
    ws.on('close', () => {
      writer.stop();
      framesOutClosed += writer.framesOut;
      peers.delete(peer);
      links.delete(peer);
      const left = rooms.leaveLink(peer);
      deps.channels.dropLink(peer);
      log.warn('balancer link closed; its connections left their rooms', { link: peer.id, left });
    });
  }

  function handle(peer: Peer, frame: B2M): void {
    switch (frame.type) {
      case 'join':
        admission.join(peer, frame.id, frame.room, frame.token, frame.rejoin === true, frame._id, frame.since);
        return;
      case 'leave':
        admission.leave(frame.id);
        return;
      case 'message':
        admission.message(peer, frame);
        return;
      case 'token':
        admission.token(frame);
        return;
    }
  }

  metrics.collect(
    'gateway_monolith_link_frames_out_total',
    'Frames sent to balancers.',
    () => [[{}, framesOutClosed + [...peers].reduce((n, p) => n + p.writer.framesOut, 0)]],
    'counter',
  );
  // Periodic full room list: balancers repair any ownership they missed (DESIGN §4).
  const gossip = setInterval(() => links.toAll(ownership.gossipFrame()), config.GOSSIP_INTERVAL_MS);
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
      links.toAll(DRAIN_FRAME);
    },
    async close() {
      clearInterval(gossip);
      for (const peer of peers) peer.ws.terminate();
      for (const ws of handshakes) ws.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
