import type { FastifyInstance } from 'fastify';
import { ErrorCode, errorBody, isRoomName, roomStream, validateBroadcastBody } from '@gateway/protocol';
import type { Metrics, VerifyResult } from '@gateway/server-kit';
import { service } from './auth.js';
import type { Hub } from '../hub/hub.js';
import type { Links } from '../rooms/links.js';
import { publishFor } from './publish.js';

export interface RouteDeps {
  hub: Hub;
  links: Links;
  metrics: Metrics;
  verify: (token: string) => Promise<VerifyResult>;
  monolithId: string;
}


/**
 * Operator and backend HTTP API. Publishing endpoints need `Authorization: Bearer <JWT>` whose
 * claims include `service: true` or `admin: true` (a backend token signed with the same key).
 */
export function registerRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const { hub, links, metrics } = deps;

  app.get('/health', async () => ({ ok: true, monolith: deps.monolithId }));

  app.get('/ready', async (_req, reply) => {
    const ready = hub.connected;
    return reply.code(ready ? 200 : 503).send({ ready, broker: hub.connected, links: links.size });
  });

  app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.render()));

  app.post<{ Params: { room: string } }>('/api/rooms/:room/broadcast', async (req, reply) => {
    if (!(await service(req, reply, deps.verify))) return reply;
    const { room } = req.params;
    if (!isRoomName(room)) return reply.code(400).send(errorBody(ErrorCode.BAD_REQUEST, 'invalid room name'));
    if (!validateBroadcastBody.check(req.body)) {
      return reply.code(400).send(errorBody(ErrorCode.BAD_REQUEST, validateBroadcastBody.explain(req.body)));
    }
    const { event, data } = req.body;
    return publishFor(req, reply, hub, roomStream(room), JSON.stringify({ event, data }), 202, { accepted: true, room });
  });
}
