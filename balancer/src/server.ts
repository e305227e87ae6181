import { channelTopic, Metrics, type M2BHead } from '@gateway/protocol';
import { verifierFromConfig, type Log } from '@gateway/protocol/node';
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
  /** Starts discovery and listens; resolves with the bound port. */
  listen(): Promise<number>;
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
      balancerId: config.BALANCER_ID,
      backoffMinMs: config.LINK_BACKOFF_MIN_MS,
      backoffMaxMs: config.LINK_BACKOFF_MAX_MS,
      heartbeatMs: config.LINK_HEARTBEAT_MS,
      maxBufferBytes: config.LINK_MAX_BUFFER_BYTES,
    },
    handler,
    log,
  );
  const sessions = new Sessions({ config, router, verify, metrics, log });

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
        if (message === undefined) return;
        framesOut.value += app.numSubscribers(head.room);
        app.publish(head.room, message, false);
        return;
      case 'publish': {
        if (message === undefined) return;
        const topic = channelTopic(monolith, head.channel);
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
  metrics.collect('gateway_owned_rooms', 'Rooms with a known owner monolith.', () => [[{}, router.owners.size]]);

  const allowedOrigins = new Set(config.ALLOWED_ORIGINS);
  let draining = false;
  // New-connection token bucket: a reconnect storm is admitted at CONNECT_RATE, not all at once.
  let connectTokens = config.CONNECT_BURST;
  let connectRefill = Date.now();
  const admit = (): boolean => {
    const now = Date.now();
    connectTokens = Math.min(config.CONNECT_BURST, connectTokens + ((now - connectRefill) * config.CONNECT_RATE) / 1000);
    connectRefill = now;
    if (connectTokens < 1) return false;
    connectTokens--;
    return true;
  };

  function upgrade(res: HttpResponse, req: HttpRequest, context: unknown, pathRoom: string | undefined): void {
    const origin = req.getHeader('origin');
    const session = sessions.create(pathRoom, Date.now());
    if (allowedOrigins.size > 0 && origin !== '' && !allowedOrigins.has(origin)) session.refuse = 'ORIGIN_NOT_ALLOWED';
    else if (draining) session.refuse = 'DRAINING';
    else if (sessions.all.size >= config.MAX_CONNECTIONS) session.refuse = 'SERVER_FULL';
    else if (!admit()) session.refuse = 'RATE_LIMITED';
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
    .get('/health', (res) => void res.end('ok'))
    .get('/ready', (res) => {
      const ready = router.readyCount > 0 && !draining;
      res.writeStatus(ready ? '200 OK' : '503 Service Unavailable').writeHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ ready, monoliths: router.readyCount, draining }));
    })
    .get('/metrics', (res) => {
      res.writeHeader('Content-Type', 'text/plain; version=0.0.4').end(metrics.render());
    })
    .any('/*', (res) => void res.writeStatus('404 Not Found').end('not found'));

  const discovery = createDiscovery(config, log);
  let listenSocket: us_listen_socket | undefined;
  let sweeper: NodeJS.Timeout | undefined;

  return {
    sessions,
    router,
    metrics,
    listen() {
      return new Promise<number>((resolve, reject) => {
        app.listen(config.BALANCER_HOST, config.BALANCER_PORT, (token) => {
          if (!token) return reject(new Error(`cannot listen on ${config.BALANCER_HOST}:${config.BALANCER_PORT}`));
          listenSocket = token;
          discovery.start((addresses) => router.setAddresses(addresses));
          const every = Math.min(1000, Math.max(50, Math.floor(config.AUTH_TIMEOUT_MS / 5)));
          sweeper = setInterval(() => sessions.sweep(Date.now()), every);
          resolve(uws.us_socket_local_port(token));
        });
      });
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
      listenSocket = undefined;
      for (const s of sessions.all.values()) sessions.close(s, SessionEvent.DRAIN, 'DRAINING');
      router.stop();
    },
  };
}
