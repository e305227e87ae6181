import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { ErrorCode, errorBody } from '@gateway/protocol';
import { Metrics, createSigner, listenAs, packageVersion, verifierFromConfig, type Log } from '@gateway/server-kit';
import { describeRedisTopology } from '@gateway/server-kit/redis';
import type { MonolithConfig } from './config.js';
import type { Broker } from './hub/broker.js';
import { createBroker } from './hub/create-broker.js';
import { Hub, MAX_HELD } from './hub/hub.js';
import { routingFor } from './hub/routing.js';
import { createCoordination } from './coordination/create-coordination.js';
import type { Coordination } from './coordination/coordination.js';
import { Links } from './rooms/links.js';
import { Ownership } from './rooms/ownership.js';
import { Rooms } from './rooms/rooms.js';
import { Channels } from './rooms/channels.js';
import { registerSpectate } from './gateway/spectate.js';
import { registerHistory } from './gateway/history.js';
import { SessionStreams } from './gateway/session-streams.js';
import { Gateway } from './gateway/gateway.js';
import { registerPing } from './gateway/ping.js';
import { registerRoutes } from './http/routes.js';
import { registerTokenRoutes } from './http/tokens.js';
import { registerGuildRoutes } from './http/guild-routes.js';
import { registerJsonBody } from './http/json-body.js';
import { Admission } from './gateway/admission.js';
import { TokenCache } from './gateway/token-cache.js';
import { registerInterpret, type AutoResponse } from './gateway/interpret.js';
import { ConnectionRateLimit } from './gateway/connection-rate.js';
import { MockBot } from './gateway/mock-bot/bot.js';
import { registerMockBot } from './gateway/mock-bot/handler.js';
import { registerPools } from './gateway/pools.js';
import { registerEvents, type RegisterEvents } from './gateway/extensions.js';
import { createStore } from './store/create-store.js';
import { StoreInputError, type EntityStore } from './store/store.js';
import { createLinkServer, type LinkServer } from './link-server.js';

export interface App {
  readonly http: FastifyInstance;
  readonly link: LinkServer;
  readonly rooms: Rooms;
  readonly hub: Hub;
  /** Epochs, single-use keys and the monolith registry (main.ts heartbeats through it). */
  readonly coordination: Coordination;
  readonly store: EntityStore;
  readonly metrics: Metrics;
  /**
   * SIGTERM: stop taking rooms, hand the connections back to the balancers (they re-join them
   * elsewhere), resolve once none is left or after `timeoutMs`.
   */
  drain(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
  /**
   * Listens on the HTTP port, then the link port (main.ts only, STYLE rule 7); resolves with the
   * bound ports. A port the system refuses throws a ConfigError naming its variable.
   */
  listen(): Promise<{ httpPort: number; linkPort: number }>;
}

const VERSION = packageVersion(new URL('../package.json', import.meta.url));

/** Distinct tokens whose verification is remembered (a 16-character key and the claims each). */
const TOKEN_CACHE_SIZE = 20_000;

/** Builds the monolith: HTTP app, link server, rooms, hub. Never listens (STYLE rule 7). */
export function buildApp(config: MonolithConfig, log: Log, deps: { broker?: Broker; events?: RegisterEvents } = {}): App {
  const metrics = new Metrics({ service: 'monolith', version: VERSION, defaults: true });
  const delay = metrics.histogram('gateway_monolith_publication_delay_seconds', 'From a publication being stored (Redis clock) to its fan-out by this monolith: pub/sub latency, and gap filling after a failover.');
  const requestTime = metrics.histogram('gateway_monolith_request_duration_seconds', 'Handling of a client request, by event, to its answer.', ['event']);
  const httpTime = metrics.histogram('gateway_monolith_http_request_duration_seconds', 'HTTP API requests, by method, route and status.', ['method', 'route', 'status']);
  const broker = deps.broker ?? createBroker(config.redis, log);
  // Each opens its own Redis connection (server-kit/src/redis-connect.ts) when Redis is configured.
  const store = createStore(config.redis);
  const coordination = createCoordination(config.redis);
  const channels = new Channels();
  const lost = metrics.counter('gateway_monolith_publications_lost_total', 'Publications this monolith could not fan out: missed live and no longer in history, or unreadable through every attempt (each gap announced to its connections with a stream_gap push). Alert on any increase.');
  const hub = new Hub(broker, channels, routingFor(config), {
    windowSize: config.HISTORY_WINDOW,
    maxReplay: config.MAX_REPLAY,
    log,
    observeDelay: (s) => delay.observe(s),
    observeLost: (n) => (lost.value += n),
  });
  const links = new Links();
  const ownership = new Ownership({ epochs: coordination.epochs, links, log });
  const rooms = new Rooms({ ownership, streams: hub, graceMs: config.ROOM_UNLOAD_GRACE_MS });
  const sessionStreams = new SessionStreams({ hub, rooms, channels, resyncSubscribeMs: config.RESYNC_SUBSCRIBE_MS, log });
  // One series per event (only events with a handler are observed), kept: looking one up by
  // its labels builds a key string.
  const requestTimeBy = new Map<string, { observe(seconds: number): void }>();
  const observeRequest = (event: string, seconds: number) => {
    let child = requestTimeBy.get(event);
    if (!child) requestTimeBy.set(event, (child = requestTime.labels({ event })));
    child.observe(seconds);
  };
  const gateway = new Gateway(rooms, log, { maxDepth: config.MAX_JSON_DEPTH, observe: observeRequest });
  const verify = verifierFromConfig(config);
  const tokens = new TokenCache(verify, TOKEN_CACHE_SIZE);
  const admission = new Admission({
    rooms,
    gateway,
    monolithId: config.MONOLITH_ID,
    verify: (token) => tokens.check(token),
    consumeOnce: (k, ttl) => coordination.consumeOnce(k, ttl),
    admitted: (conn, since, rejoin, greet) => sessionStreams.admitted(conn, since, rejoin, greet),
    log,
  });
  registerPing(gateway);
  sessionStreams.register(gateway);
  registerHistory(gateway, hub);
  registerSpectate(gateway, rooms, channels, hub, admission);
  registerPools(gateway, store);
  const mockBot = new MockBot();
  const mockBotLimit = new ConnectionRateLimit(rooms, config.INTERPRET_RATE, config.INTERPRET_BURST);
  registerMockBot(gateway, mockBot, mockBotLimit);
  registerInterpret(gateway, rooms, {
    bot: mockBot,
    limit: mockBotLimit,
    async autoResponses(guildId) {
      const { data } = await store.page('autoResponse', guildId, undefined, 200);
      return data.filter((e): e is typeof e & AutoResponse => typeof e.trigger === 'string' && typeof e.response === 'string');
    },
  });
  if (deps.events) log.info('own gateway events registered', { events: registerEvents(gateway, deps.events, { store, log }) });
  const sign = config.JWT_SECRET ? createSigner(config.JWT_SECRET, { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE }) : undefined;

  // fastify's own logger is the service's pino (request ids on req.log); the access log is ours:
  // every request at debug, every refusal or failure (4xx, 5xx) at info, with its reason.
  let requestSeq = 0;
  const http = Fastify({
    ...(log.pino ? { loggerInstance: log.pino as unknown as FastifyBaseLogger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    genReqId: () => `${config.MONOLITH_ID}-${(++requestSeq).toString(36)}`,
    bodyLimit: config.MAX_HTTP_BODY_BYTES,
  });
  registerJsonBody(http);
  http.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    done();
  });
  http.addHook('onResponse', (req, reply, done) => {
    // The route pattern, not the URL: ids in paths must not become label values.
    const route = req.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    httpTime.observe({ method: req.method, route, status: String(status) }, reply.elapsedTime / 1000);
    req.log[status >= 400 ? 'info' : 'debug']({ method: req.method, route, status, ms: Math.round(reply.elapsedTime * 10) / 10, reason: replyReasons.get(reply) }, 'http request');
    done();
  });
  // The error code a refusal answered with, for its access log line.
  const replyReasons = new WeakMap<object, string>();
  http.addHook('onSend', (_req, reply, payload, done) => {
    if (reply.statusCode >= 400 && typeof payload === 'string' && payload.length < 4096) {
      const code = /"code":"([a-z_]+)"/.exec(payload)?.[1];
      if (code) replyReasons.set(reply, code);
    }
    done(null, payload);
  });
  http.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    // Input the store refuses is the caller's mistake (400), not ours (500).
    if (err instanceof StoreInputError) return reply.code(400).send(errorBody(ErrorCode.BAD_REQUEST, err.message));
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) log.error('http handler failed', { err: err.message });
    return reply.code(status).send(errorBody(status === 500 ? ErrorCode.INTERNAL : ErrorCode.BAD_REQUEST, err.message));
  });
  registerRoutes(http, { hub, links, metrics, verify, monolithId: config.MONOLITH_ID });
  registerTokenRoutes(http, {
    verify,
    sign,
    guestLimit: { perMinute: config.GUEST_TOKEN_RATE, burst: config.GUEST_TOKEN_BURST, proxyHeader: config.TRUSTED_PROXY_HEADER },
    corsOrigins: config.MONOLITH_CORS_ORIGINS,
  });
  registerGuildRoutes(http, { hub, store, verify });
  const httpPort = () => {
    const address = http.server.address();
    return typeof address === 'object' && address ? address.port : config.MONOLITH_HTTP_PORT;
  };
  const link = createLinkServer({
    config,
    rooms,
    links,
    ownership,
    channels,
    admission,
    metrics,
    log,
    httpPort,
  });

  metrics.collect('gateway_monolith_connections', 'Client connections in rooms owned here.', () => [[{}, rooms.connectionCount]]);
  metrics.collect('gateway_monolith_rooms', 'Rooms loaded here.', () => [[{}, rooms.roomCount]]);
  metrics.collect('gateway_monolith_links', 'Balancer links connected.', () => [[{}, links.size]]);
  metrics.collect('gateway_monolith_streams', 'Streams subscribed here, by family.', () => {
    const families = new Map<string, number>();
    for (const stream of hub.counts().keys()) {
      const family = stream.startsWith('guild:') ? (stream.endsWith(':logs') ? 'logs' : 'guild') : stream.slice(0, stream.indexOf(':'));
      families.set(family, (families.get(family) ?? 0) + 1);
    }
    return ['room', 'user', 'guild', 'logs'].map((family) => [{ family }, families.get(family) ?? 0]);
  });
  metrics.collect('gateway_monolith_publications_held', `Live publications held while gaps are filled from history (at most ${MAX_HELD} per stream; more are read from history).`, () => [[{}, hub.heldCount()]]);
  metrics.collect('gateway_monolith_broker_up', 'Broker state: 1 while commands run and every subscribed stream is live (0 during an outage, or while a failover or slot move has a stream re-subscribing).', () => [[{}, broker.connected ? 1 : 0]]);
  broker.onConnectionChange((up) => log[up ? 'info' : 'warn'](up ? 'broker connected' : 'broker connection lost', {}));
  // A Redis unreachable from the start would otherwise say nothing (there is no 'lost' without
  // a first connection): one line every 30 s until it answers.
  if (config.redis) {
    if (config.redis.kind !== 'standalone' && config.redis.waitReplicas === 0) {
      log.info('REDIS_WAIT_REPLICAS=0 on a replicated Redis: a primary crash loses the acknowledged publications it had not yet replicated; set 1 (2 against a forced Sentinel failover) and run two replicas per primary to keep them', { redis: describeRedisTopology(config.redis) });
    }
    let everUp = broker.connected;
    broker.onConnectionChange((up) => (everUp ||= up));
    const waiting = setInterval(() => {
      if (everUp) return clearInterval(waiting);
      log.warn('redis not reachable yet: publishing and /ready answer 503 until it is', { redis: describeRedisTopology(config.redis) });
    }, 30_000);
    waiting.unref();
    setTimeout(() => everUp || log.warn('redis not reachable yet: publishing and /ready answer 503 until it is', { redis: describeRedisTopology(config.redis) }), 3000).unref();
  }
  const resubscribed = metrics.counter('gateway_monolith_broker_resubscribed_total', 'Streams subscribed again after their subscription was lost (a dropped connection, a failover, a slot move); each gap is then read from history.');
  broker.onResubscribed((streams) => {
    resubscribed.value += streams.length;
    log.info('streams re-subscribed; filling their gaps from history', { streams: streams.length });
  });

  return {
    http,
    link,
    rooms,
    hub,
    coordination,
    store,
    metrics,
    async drain(timeoutMs) {
      ownership.draining = true;
      link.drain();
      const deadline = Date.now() + timeoutMs;
      while (rooms.connectionCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      log.info('drained', { left: rooms.connectionCount });
    },
    async close() {
      rooms.close();
      await link.close();
      await http.close();
      await Promise.allSettled([broker.close(), store.close(), coordination.close()]);
    },
    async listen() {
      const host = config.MONOLITH_HOST;
      const at = (portVar: string, port: number) => ({ hostVar: 'MONOLITH_HOST', host, portVar, port });
      await listenAs(at('MONOLITH_HTTP_PORT', config.MONOLITH_HTTP_PORT), () => http.listen({ host, port: config.MONOLITH_HTTP_PORT }));
      const linkPort = await listenAs(at('MONOLITH_LINK_PORT', config.MONOLITH_LINK_PORT), () => link.listen(host, config.MONOLITH_LINK_PORT));
      return { httpPort: httpPort(), linkPort };
    },
  };
}
