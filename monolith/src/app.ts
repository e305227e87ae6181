import Fastify, { type FastifyInstance } from 'fastify';
import { Metrics } from '@gateway/protocol';
import { verifierFromConfig, type Log } from '@gateway/protocol/node';
import type { MonolithConfig } from './config.js';
import type { Bus } from './bus/bus.js';
import { createBus } from './bus/create-bus.js';
import { createEpochs } from './rooms/epochs.js';
import { Rooms } from './rooms/rooms.js';
import { Gateway } from './gateway/gateway.js';
import { registerPing } from './gateway/ping.js';
import { registerRoutes } from './http/routes.js';
import { createLinkServer, type LinkServer } from './link-server.js';

export interface App {
  readonly http: FastifyInstance;
  readonly link: LinkServer;
  readonly rooms: Rooms;
  readonly bus: Bus;
  readonly metrics: Metrics;
  close(): Promise<void>;
}

/** Builds the monolith: HTTP app, link server, rooms, bus. Never listens (STYLE rule 7). */
export function buildApp(config: MonolithConfig, log: Log, deps: { bus?: Bus } = {}): App {
  const metrics = new Metrics();
  const bus = deps.bus ?? createBus(config);
  const rooms = new Rooms({ epochs: createEpochs(bus), bus, graceMs: config.ROOM_UNLOAD_GRACE_MS, log });
  const gateway = new Gateway(rooms, log);
  registerPing(gateway);
  const verify = verifierFromConfig(config);

  const http = Fastify({ logger: false, bodyLimit: config.MAX_HTTP_BODY_BYTES });
  registerRoutes(http, { bus, rooms, metrics, verify, monolithId: config.MONOLITH_ID });
  const link = createLinkServer({
    config,
    rooms,
    gateway,
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
  metrics.collect('monolith_bus_up', 'Bus connection state (1 up).', () => [[{}, bus.connected ? 1 : 0]]);
  bus.onConnectionChange((up) => log[up ? 'info' : 'warn'](up ? 'bus connected' : 'bus connection lost', {}));

  return {
    http,
    link,
    rooms,
    bus,
    metrics,
    async close() {
      rooms.close();
      await link.close();
      await http.close();
      await bus.close();
    },
  };
}
