import { channelTopic, Metrics, roomStream, type M2BHead } from '@gateway/protocol';
import { sourceKey, verifierFromConfig, type Log } from '@gateway/protocol/node';
import { Admission } from './admission.js';
import type { BalancerConfig } from './config.js';
import { Sessions, type Session } from './client-session.js';
import { createDiscovery } from './discovery/discovery.js';
import type { LinkHandler, MonolithLink } from './monolith-link.js';
import { Router } from './routing/router.js';
import { SessionEvent } from './session-states.js';
import { uws, type HttpRequest, type HttpResponse, type TemplatedApp, type us_listen_socket } from './uws.js';

/** uWS's hard frame limit: past it a socket is cut without a close frame (a client sees 1006). */
export function uwsPayloadCap(maxPayloadBytes: number): number {
  return Math.max(maxPayloadBytes * 4, 1024 * 1024);
}

export interface Balancer {
  /** Starts discovery and listens on the client and admin ports; resolves with both bound ports. */
  listen(): Promise<{ port: number; adminPort: number }>;
  close(): void;
  /**
   * SIGTERM: `/ready` turns false, no new sockets are accepted, existing clients are closed with
   * DRAINING spread evenly over DRAIN_WINDOW_MS; resolves once every client is gone.
   */
  drain(): Promise<void>;
  readonly sessions: Sessions;
  readonly router: Router;
  readonly metrics: Metrics;
}

/**
 * Wires uWS, the session logic, monolith links and discovery together. Does not listen until
 * `listen()` (STYLE rule 7).
 */
export function createBalancer(config: BalancerConfig, log: Log): Balancer {
  const metrics = new Metrics();
  const verify = verifierFromConfig(config);
  const framesOut = metrics.counter('gateway_client_frames_out_total', 'Frames sent to clients (fan-out counted per recipient).');
  let app: TemplatedApp;

  const handler: LinkHandler = {
    ready(link) {
      router.linkReady(link);
    },
    down(link, reason) {
      log.warn('monolith link down; re-placing its rooms', { monolith: link.monolithId, reason });
      router.linkDown(link);
      sessions.moveAll(link);
    },
    frame: (link, head, message) => dispatch(link, head, message),
  };
  const router = new Router(
    {
      secret: config.LINK_SECRET,
      tls: config.linkTls.ca ? { ca: config.linkTls.ca, cert: config.linkTls.cert, key: config.linkTls.key } : undefined,
      balancerId: config.BALANCER_ID,
      backoffMinMs: config.LINK_BACKOFF_MIN_MS,
      backoffMaxMs: config.LINK_BACKOFF_MAX_MS,
      heartbeatMs: config.LINK_HEARTBEAT_MS,
      maxBufferBytes: config.LINK_MAX_BUFFER_BYTES,
    },
    handler,
    log,
  );
  const admission = new Admission(config, Date.now());
  const sessions = new Sessions({ config, router, verify, admission, metrics, log });

  /**
   * Two monoliths claim one room: the older epoch keeps it (DESIGN §4), and this balancer's
   * connections in the room move from the loser to the winner without a disconnect.
   */
  function claim(room: string, monolith: string, epoch: number): void {
    const loser = router.owners.loaded(room, monolith, epoch);
    if (loser === undefined) return;
    const lost = router.byId(loser);
    log.warn('room claimed by two monoliths; the older epoch keeps it', { room, winner: router.owners.owner(room), loser });
    if (lost) sessions.moveRoom(room, lost);
  }

  /** One monolith frame. Runs per frame: keep it to a switch and a map lookup. */
  function dispatch(link: MonolithLink, head: M2BHead, message: string | undefined): void {
    const monolith = link.monolithId!;
    // A monolith may only address connections routed to it.
    const mine = (id: string) => {
      const s = sessions.all.get(id);
      return s?.link === link ? s : undefined;
    };
    switch (head.type) {
      case 'unicast': {
        const s = mine(head.id);
        if (!s?.ws || message === undefined) return;
        framesOut.value++;
        sessions.send(s, message);
        return;
      }
      case 'broadcast':
      case 'publish': {
        if (message === undefined) return;
        // `broadcast` is kept as an alias of a publish to the room's channel (DESIGN §3).
        const topic = channelTopic(monolith, head.type === 'publish' ? head.channel : roomStream(head.room));
        framesOut.value += app.numSubscribers(topic);
        app.publish(topic, message, false);
        return;
      }
      case 'subscribe':
        mine(head.id)?.ws?.subscribe(channelTopic(monolith, head.channel));
        return;
      case 'unsubscribe':
        mine(head.id)?.ws?.unsubscribe(channelTopic(monolith, head.channel));
        return;
      case 'kick': {
        const s = mine(head.id);
        if (s) sessions.kick(s, head.code, head.reason);
        return;
      }
      case 'loaded':
        claim(head.room, monolith, head.epoch);
        return;
      case 'unloaded':
        router.owners.unloaded(head.room, monolith);
        return;
      case 'gossip':
        for (const r of head.rooms) claim(r.room, monolith, r.epoch);
        return;
      case 'drain':
        log.info('monolith draining; moving its connections', { monolith });
        router.linkDraining(link);
        sessions.moveAll(link);
        return;
      case 'init':
        return;
    }
  }

  metrics.collect('gateway_client_connections', 'Open client sockets.', () => [[{}, sessions.all.size]]);
  metrics.collect('gateway_link_up', 'Monolith link state per address (1 ready, 0 otherwise).', () =>
    [...router.allLinks()].map((l) => [{ address: l.address, monolith: l.monolithId ?? '' }, l.state === 'ready' ? 1 : 0]),
  );
  metrics.collect('gateway_link_frames_in_total', 'Frames received from each monolith.', () =>
    [...router.allLinks()].map((l) => [{ address: l.address }, l.framesIn]),
    'counter',
  );
  metrics.collect('gateway_link_frames_out_total', 'Frames sent to each monolith.', () =>
    [...router.allLinks()].map((l) => [{ address: l.address }, l.framesOut]),
    'counter',
  );
  metrics.collect('gateway_client_unauthenticated', 'Client sockets admitted that have not finished auth.', () => [[{}, admission.unauthenticated]]);
  metrics.collect('gateway_admission_sources', 'Client addresses with a connect-rate bucket that has not refilled.', () => [[{}, admission.trackedSources]]);
  metrics.collect('gateway_owned_rooms', 'Rooms with a known owner monolith.', () => [[{}, router.owners.size]]);

  const allowedOrigins = new Set(config.ALLOWED_ORIGINS);
  let draining = false;
  // uWS lower-cases header names; an empty value is read as "no header".
  const proxyHeader = config.TRUSTED_PROXY_HEADER?.toLowerCase();

  /** The client address: the proxy header's last hop (the one our proxy wrote), else the TCP peer. */
  function clientAddress(res: HttpResponse, req: HttpRequest): string {
    if (proxyHeader !== undefined) {
      const hops = req.getHeader(proxyHeader);
      const last = hops.slice(hops.lastIndexOf(',') + 1).trim();
      if (last !== '') return sourceKey(last);
    }
    // Read before res.upgrade: the response is gone afterwards.
    return sourceKey(Buffer.from(res.getRemoteAddressAsText()).toString());
  }

  function upgrade(res: HttpResponse, req: HttpRequest, context: unknown, pathRoom: string | undefined): void {
    const origin = req.getHeader('origin');
    const now = Date.now();
    const session = sessions.create(pathRoom, now);
    if (allowedOrigins.size > 0 && origin !== '' && !allowedOrigins.has(origin)) session.refuse = 'ORIGIN_NOT_ALLOWED';
    else if (draining) session.refuse = 'DRAINING';
    else {
      const source = clientAddress(res, req);
      session.refuse = admission.admit(source, sessions.all.size, now);
      // Counted as unauthenticated from here until it authenticates or closes (Sessions.release).
      if (session.refuse === undefined) session.source = source;
    }
    res.upgrade<Session>(
      session,
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context as Parameters<HttpResponse['upgrade']>[4],
    );
  }

  const behavior = {
    // Frames over the configured limit are closed with our own code (MESSAGE_TOO_LARGE); uWS
    // itself drops a socket without a close frame past its hard limit, so keep that well above.
    maxPayloadLength: uwsPayloadCap(config.MAX_PAYLOAD_BYTES),
    // Twice our limit: we close at the limit, and the close frame must still fit in the queue
    // (uWS drops any frame, close frames included, once a socket is over its cap).
    maxBackpressure: config.MAX_BACKPRESSURE_BYTES * 2,
    closeOnBackpressureLimit: 0,
    idleTimeout: config.IDLE_TIMEOUT_S,
    sendPingsAutomatically: true,
    open: (ws: Parameters<Sessions['opened']>[0]) => sessions.opened(ws),
    ping: (ws: Parameters<Sessions['opened']>[0]) => sessions.ping(ws),
    message: (ws: Parameters<Sessions['opened']>[0], data: ArrayBuffer, isBinary: boolean) => sessions.message(ws, data, isBinary),
    close: (ws: Parameters<Sessions['opened']>[0], code: number) => sessions.closed(ws, code),
  };

  app = uws
    .App()
    .ws<Session>('/ws', { ...behavior, upgrade: (res, req, ctx) => upgrade(res, req, ctx, undefined) })
    .ws<Session>('/api/room/:room', {
      ...behavior,
      upgrade: (res, req, ctx) => {
        let room: string;
        try {
          room = decodeURIComponent(req.getParameter(0));
        } catch {
          room = '';
        }
        upgrade(res, req, ctx, room);
      },
    })
    // Load balancers probe the client port: /health and /ready stay on it; /metrics does not.
    .get('/health', health)
    .get('/ready', ready)
    .any('/*', notFound);
  // The admin port: /metrics names internal addresses (links, monoliths), so it listens apart,
  // on loopback unless ADMIN_HOST says otherwise.
  const admin = uws
    .App()
    .get('/metrics', (res) => {
      res.writeHeader('Content-Type', 'text/plain; version=0.0.4').end(metrics.render());
    })
    .get('/health', health)
    .get('/ready', ready)
    .any('/*', notFound);

  function health(res: HttpResponse): void {
    res.end('ok');
  }
  function ready(res: HttpResponse): void {
    const isReady = router.readyCount > 0 && !draining;
    res.writeStatus(isReady ? '200 OK' : '503 Service Unavailable').writeHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ ready: isReady, monoliths: router.readyCount, draining }));
  }
  function notFound(res: HttpResponse): void {
    res.writeStatus('404 Not Found').end('not found');
  }

  const discovery = createDiscovery(config, log);
  let listenSocket: us_listen_socket | undefined;
  let adminSocket: us_listen_socket | undefined;
  let sweeper: NodeJS.Timeout | undefined;

  return {
    sessions,
    router,
    metrics,
    async listen() {
      const bind = (on: TemplatedApp, host: string, port: number) =>
        new Promise<us_listen_socket>((resolve, reject) => {
          on.listen(host, port, (token) => (token ? resolve(token) : reject(new Error(`cannot listen on ${host}:${port}`))));
        });
      adminSocket = await bind(admin, config.ADMIN_HOST, config.ADMIN_PORT);
      listenSocket = await bind(app, config.BALANCER_HOST, config.BALANCER_PORT).catch((err: Error) => {
        uws.us_listen_socket_close(adminSocket!);
        throw err;
      });
      discovery.start((addresses) => router.setAddresses(addresses));
      const every = Math.min(1000, Math.max(50, Math.floor(config.AUTH_TIMEOUT_MS / 5)));
      sweeper = setInterval(() => {
        const now = Date.now();
        sessions.sweep(now);
        admission.sweep(now);
      }, every);
      return { port: uws.us_socket_local_port(listenSocket), adminPort: uws.us_socket_local_port(adminSocket) };
    },
    async drain() {
      if (draining) return;
      // Keep listening: /ready must answer 503 to health checks, and a socket that still
      // arrives is upgraded and closed with DRAINING so its client reconnects elsewhere.
      draining = true;
      const queue = [...sessions.all.values()];
      const total = queue.length;
      const started = Date.now();
      log.info('draining', { clients: total, windowMs: config.DRAIN_WINDOW_MS });
      await new Promise<void>((resolve) => {
        const step = () => {
          // Close the share of clients whose time has come: an even spread over the window.
          const due = config.DRAIN_WINDOW_MS === 0 ? total : Math.ceil((total * (Date.now() - started)) / config.DRAIN_WINDOW_MS);
          while (queue.length > total - Math.min(due, total)) sessions.close(queue.shift()!, SessionEvent.DRAIN, 'DRAINING');
          if (queue.length === 0) return resolve();
          setTimeout(step, Math.max(10, Math.min(100, config.DRAIN_WINDOW_MS / 100)));
        };
        step();
      });
    },
    close() {
      clearInterval(sweeper);
      discovery.stop();
      if (listenSocket) uws.us_listen_socket_close(listenSocket);
      if (adminSocket) uws.us_listen_socket_close(adminSocket);
      listenSocket = adminSocket = undefined;
      for (const s of sessions.all.values()) sessions.close(s, SessionEvent.DRAIN, 'DRAINING');
      router.stop();
    },
  };
}
