import { Metrics, packageVersion, verifierFromConfig, type Log } from '@gateway/server-kit';
import { Admission } from './admission.js';
import type { BalancerConfig } from './config.js';
import { Sessions, type SocketData } from './client-session.js';
import { createDiscovery } from './discovery/discovery.js';
import { Drain } from './drain.js';
import { createLinkDispatch, type LinkDispatch } from './link-dispatch.js';
import type { LinkHandler } from './monolith-link.js';
import { Router } from './routing/router.js';
import { SessionEvent } from './session-states.js';
import { createUpgrades } from './upgrade.js';
import { listenOn, loadUws, type HttpResponse, type us_listen_socket } from './uws.js';

const VERSION = packageVersion(new URL('../package.json', import.meta.url));

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
 * `listen()` (STYLE rule 7). Loads the native uWS binary (and throws when there is none).
 */
export function createBalancer(config: BalancerConfig, log: Log): Balancer {
  const uws = loadUws();
  const now = Date.now;
  const metrics = new Metrics({ service: 'balancer', version: VERSION, defaults: true });
  const linkRtt = metrics.histogram('gateway_balancer_link_rtt_seconds', 'Link heartbeat round trip (ping to pong) to monoliths.');
  const verifyTime = metrics.histogram('gateway_balancer_auth_verify_seconds', 'Time to verify a client token (JWT signature and claims; a JWKS fetch when due).');
  const verifyToken = verifierFromConfig(config);
  // Timed once per auth frame, never per data frame.
  const verify: typeof verifyToken = async (token) => {
    const end = verifyTime.startTimer();
    try {
      return await verifyToken(token);
    } finally {
      end();
    }
  };
  const framesOut = metrics.counter('gateway_balancer_client_frames_out_total', 'Frames sent to clients (fan-out counted per recipient).');
  // Set below, once the uWS app it publishes through exists; no frame arrives before listen().
  let dispatch: LinkDispatch;

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
    batchEnd: () => dispatch.end(),
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
      onRoundTrip: (seconds) => linkRtt.observe(seconds),
    },
    handler,
    log,
  );
  const admission = new Admission(config, now());
  const sessions = new Sessions({ config, router, verify, admission, metrics, log, now });
  const drainer = new Drain(sessions, config.DRAIN_WINDOW_MS, log);
  const upgrades = createUpgrades({ config, sessions, admission, draining: () => drainer.active, now });

  metrics.collect('gateway_balancer_client_connections', 'Open client sockets.', () => [[{}, sessions.all.size]]);
  metrics.collect('gateway_balancer_link_up', 'Monolith link state per address (1 ready, 0 otherwise).', () =>
    [...router.allLinks()].map((l) => [{ address: l.address, monolith: l.monolithId ?? '' }, l.state === 'ready' ? 1 : 0]),
  );
  metrics.collect('gateway_balancer_link_frames_in_total', 'Frames received from each monolith.', () =>
    [...router.allLinks()].map((l) => [{ address: l.address }, l.framesIn]),
    'counter',
  );
  metrics.collect('gateway_balancer_link_frames_out_total', 'Frames sent to each monolith.', () =>
    [...router.allLinks()].map((l) => [{ address: l.address }, l.framesOut]),
    'counter',
  );
  metrics.collect('gateway_balancer_client_unauthenticated', 'Client sockets admitted that have not finished auth.', () => [[{}, admission.unauthenticated]]);
  metrics.collect('gateway_balancer_admission_sources', 'Client addresses with a connect-rate bucket that has not refilled.', () => [[{}, admission.trackedSources]]);
  metrics.collect('gateway_balancer_owned_rooms', 'Rooms with a known owner monolith.', () => [[{}, router.owners.size]]);

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

  const app = uws
    .App()
    .ws<SocketData>('/ws', { ...behavior, upgrade: upgrades.ws })
    .ws<SocketData>('/api/room/:room', { ...behavior, upgrade: upgrades.room })
    .ws<SocketData>('/authenticated', { ...behavior, upgrade: upgrades.architus })
    // Load balancers probe the client port: /health and /ready stay on it; /metrics does not.
    .get('/health', health)
    .get('/ready', ready)
    .any('/*', notFound);
  // The admin port: /metrics names internal addresses (links, monoliths), so it listens apart,
  // on loopback unless ADMIN_HOST says otherwise.
  const admin = uws
    .App()
    .get('/metrics', (res) => {
      let aborted = false;
      res.onAborted(() => (aborted = true));
      void metrics.render().then((text) => {
        if (!aborted) res.cork(() => res.writeHeader('Content-Type', metrics.contentType).end(text));
      });
    })
    .get('/health', health)
    .get('/ready', ready)
    .any('/*', notFound);
  dispatch = createLinkDispatch({ sessions, router, fanout: app, framesOut, log });

  function health(res: HttpResponse): void {
    res.end('ok');
  }
  function ready(res: HttpResponse): void {
    const draining = drainer.active;
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
      adminSocket = await listenOn(admin, { hostVar: 'ADMIN_HOST', host: config.ADMIN_HOST, portVar: 'ADMIN_PORT', port: config.ADMIN_PORT });
      listenSocket = await listenOn(app, { hostVar: 'BALANCER_HOST', host: config.BALANCER_HOST, portVar: 'BALANCER_PORT', port: config.BALANCER_PORT }, { reusePort: config.BALANCER_REUSE_PORT }).catch((err: Error) => {
        uws.us_listen_socket_close(adminSocket!);
        throw err;
      });
      discovery.start((addresses) => router.setAddresses(addresses));
      const every = Math.min(1000, Math.max(50, Math.floor(config.AUTH_TIMEOUT_MS / 5)));
      sweeper = setInterval(() => {
        sessions.sweep();
        admission.sweep(now());
      }, every);
      return { port: uws.us_socket_local_port(listenSocket), adminPort: uws.us_socket_local_port(adminSocket) };
    },
    drain: () => drainer.run(),
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
