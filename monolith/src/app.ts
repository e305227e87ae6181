import Fastify, { type FastifyInstance } from 'fastify';
import { ErrorCode, Metrics } from '@gateway/protocol';
import { createSigner, verifierFromConfig, type Log } from '@gateway/protocol/node';
import type { MonolithConfig } from './config.js';
import type { Bus } from './bus/bus.js';
import { createBus } from './bus/create-bus.js';
import { createCoordination } from './coordination/create-coordination.js';
import { Rooms } from './rooms/rooms.js';
import { Channels } from './rooms/channels.js';
import { GuildTopics } from './gateway/guild-topics.js';
import { registerSpectate } from './gateway/spectate.js';
import { Gateway } from './gateway/gateway.js';
import { registerPing } from './gateway/ping.js';
import { registerRoutes } from './http/routes.js';
import { registerTokenRoutes } from './http/tokens.js';
import { registerGuildRoutes } from './http/guild-routes.js';
import { Admission } from './gateway/admission.js';
import { TokenCache } from './gateway/token-cache.js';
import { registerInterpret, type AutoResponse } from './gateway/interpret.js';
import { registerPools } from './gateway/pools.js';
import { createStore } from './store/create-store.js';
import { StoreInputError, type EntityStore } from './store/store.js';
import { problem } from './http/auth.js';
import { createLinkServer, type LinkServer } from './link-server.js';

export interface App {
  readonly http: FastifyInstance;
  readonly link: LinkServer;
  readonly rooms: Rooms;
  readonly bus: Bus;
  readonly store: EntityStore;
  readonly metrics: Metrics;
  /**
   * SIGTERM: stop taking rooms, hand the connections back to the balancers (they re-join them
   * elsewhere), resolve once none is left or after `timeoutMs`.
   */
  drain(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Distinct tokens whose verification is remembered (about 1 KB each). */
const TOKEN_CACHE_SIZE = 20_000;

/** Builds the monolith: HTTP app, link server, rooms, bus. Never listens (STYLE rule 7). */
export function buildApp(config: MonolithConfig, log: Log, deps: { bus?: Bus } = {}): App {
  const metrics = new Metrics();
  const bus = deps.bus ?? createBus(config);
  // Each opens its own Redis connection (redis/connect.ts) when REDIS_URL is set.
  const store = createStore(config);
  const coordination = createCoordination(config);
  const rooms = new Rooms({ epochs: coordination.epochs, bus, graceMs: config.ROOM_UNLOAD_GRACE_MS, log });
  const channels = new Channels();
  const guildTopics = new GuildTopics(bus, channels, log);
  const gateway = new Gateway(rooms, log, { maxDepth: config.MAX_JSON_DEPTH });
  const verify = verifierFromConfig(config);
  const tokens = new TokenCache(verify, TOKEN_CACHE_SIZE);
  const admission = new Admission({
    rooms,
    gateway,
    monolithId: config.MONOLITH_ID,
    verify: (token) => tokens.check(token),
    consumeOnce: (k, ttl) => coordination.consumeOnce(k, ttl),
    log,
  });
  registerPing(gateway);
  registerSpectate(gateway, rooms, channels, guildTopics, admission);
  registerPools(gateway, store);
  registerInterpret(gateway, rooms, {
    rate: config.INTERPRET_RATE,
    burst: config.INTERPRET_BURST,
    async autoResponses(guildId) {
      const { data } = await store.page('autoResponse', guildId, undefined, 200);
      return data.filter((e): e is typeof e & AutoResponse => typeof e.trigger === 'string' && typeof e.response === 'string');
    },
  });
  const sign = config.JWT_SECRET ? createSigner(config.JWT_SECRET, { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE }) : undefined;

  const http = Fastify({ logger: false, bodyLimit: config.MAX_HTTP_BODY_BYTES });
  http.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    // Input the store refuses is the caller's mistake (400), not ours (500).
    if (err instanceof StoreInputError) return reply.code(400).send(problem(ErrorCode.BAD_REQUEST, err.message));
    const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) log.error('http handler failed', { err: err.message });
    return reply.code(status).send(problem(status === 500 ? ErrorCode.INTERNAL : ErrorCode.BAD_REQUEST, err.message));
  });
  registerRoutes(http, { bus, rooms, metrics, verify, monolithId: config.MONOLITH_ID });
  registerTokenRoutes(http, {
    verify,
    sign,
    guestLimit: { perMinute: config.GUEST_TOKEN_RATE, burst: config.GUEST_TOKEN_BURST, proxyHeader: config.TRUSTED_PROXY_HEADER },
  });
  registerGuildRoutes(http, { bus, store, verify });
  const link = createLinkServer({
    config,
    rooms,
    channels,
    admission,
    metrics,
    log,
    httpPort: () => {
      const address = http.server.address();
      return typeof address === 'object' && address ? address.port : config.HTTP_PORT;
    },
  });

  metrics.collect('monolith_connections', 'Client connections in rooms owned here.', () => [[{}, rooms.connectionCount]]);
  metrics.collect('monolith_rooms', 'Rooms loaded here.', () => [[{}, rooms.roomCount]]);
  metrics.collect('monolith_links', 'Balancer links connected.', () => [[{}, rooms.linkCount]]);
  metrics.collect('monolith_bus_topics', 'Bus topics subscribed.', () => [[{}, bus.topics().length]]);
  metrics.collect('monolith_guild_topics', 'Guild bus topics subscribed for spectators, by kind.', () => {
    let guilds = 0;
    let logs = 0;
    for (const topic of guildTopics.counts().keys()) topic.endsWith('_logs') ? logs++ : guilds++;
    return [
      [{ kind: 'guild' }, guilds],
      [{ kind: 'logs' }, logs],
    ];
  });
  metrics.collect('monolith_bus_up', 'Bus connection state (1 up).', () => [[{}, bus.connected ? 1 : 0]]);
  bus.onConnectionChange((up) => log[up ? 'info' : 'warn'](up ? 'bus connected' : 'bus connection lost', {}));

  return {
    http,
    link,
    rooms,
    bus,
    store,
    metrics,
    async drain(timeoutMs) {
      rooms.draining = true;
      link.drain();
      const deadline = Date.now() + timeoutMs;
      while (rooms.connectionCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      log.info('drained', { left: rooms.connectionCount });
    },
    async close() {
      rooms.close();
      await link.close();
      await http.close();
      await bus.close();
    },
  };
}
