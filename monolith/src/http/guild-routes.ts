import type { FastifyInstance } from 'fastify';
import {
  ApiEvent,
  ErrorCode,
  GUILD_POOLS,
  errorBody,
  POOL_TYPES,
  guildLogsStream,
  guildStream,
  isSnowflake,
  ownRoom,
  normalizeLogEntry,
  validateEntityBody,
  validateLogEntryInput,
  validateUserGuildsBody,
  validateUserMessageBody,
  type PoolType,
} from '@gateway/protocol';
import type { Hub } from '../hub/hub.js';
import { publishFor } from './publish.js';
import type { EntityStore, UserGuildEntry } from '../store/store.js';
import { service, type Verify } from './auth.js';

/**
 * Backend writes that store and publish (DESIGN §6, §10): each answers 2xx only once the
 * publication is stored, with its `{stream, offset, epoch}`. Stream message formats:
 * - `guild:<id>`: `{"event":"log_pool","data":{"type","guild_id","entity"|"id","deleted"}}`
 * - `guild:<id>:logs`: `{"event":"log_other","data":<LogEntry>}`
 * - `user:<id>`: `{"event","data"}`, delivered as is to every socket of the user
 * A posted log entry is stored normalized (normalizeLogEntry: string ids, `timestamp` from the
 * id when absent). `PUT /api/users/:id/guilds` stores a user's Discord guild list for the guild
 * pool (GuildView) and publishes nothing.
 */
export function registerGuildRoutes(app: FastifyInstance, deps: { hub: Hub; store: EntityStore; verify: Verify }): void {
  const { hub, store } = deps;
  type PoolParams = { guild_id: string; type: string; id: string };

  const poolParams = (p: PoolParams): { type: PoolType; guildId: string | undefined } | string => {
    if (!isSnowflake(p.guild_id)) return 'guild_id must be a snowflake (digits)';
    if (!(POOL_TYPES as readonly string[]).includes(p.type)) return `unknown pool type ${p.type}`;
    if (p.id.length === 0 || p.id.length > 64) return 'invalid id';
    const type = p.type as PoolType;
    return { type, guildId: GUILD_POOLS.has(type) ? p.guild_id : undefined };
  };

  app.put<{ Params: PoolParams }>('/api/guilds/:guild_id/pools/:type/:id', async (req, reply) => {
    if (!(await service(req, reply, deps.verify))) return reply;
    const p = poolParams(req.params);
    if (typeof p === 'string') return reply.code(400).send(errorBody(ErrorCode.BAD_REQUEST, p));
    const body = req.body;
    if (!validateEntityBody.check(body) || (body.id !== undefined && body.id !== req.params.id)) {
      return reply.code(400).send(errorBody(ErrorCode.BAD_REQUEST, 'body must be a JSON object whose id, if given, matches the path'));
    }
    const entity = { ...(body as Record<string, unknown>), id: req.params.id };
    await store.put(p.type, p.guildId, entity);
    // Stored first: a 503 here means "stored, not announced"; a retry (a PUT is idempotent) announces it.
    const message = JSON.stringify({ event: ApiEvent.LOG_POOL, data: { type: p.type, guild_id: req.params.guild_id, entity } });
    return publishFor(req, reply, hub, guildStream(req.params.guild_id), message, 200, { stored: true });
  });

  app.delete<{ Params: PoolParams }>('/api/guilds/:guild_id/pools/:type/:id', async (req, reply) => {
    if (!(await service(req, reply, deps.verify))) return reply;
    const p = poolParams(req.params);
    if (typeof p === 'string') return reply.code(400).send(errorBody(ErrorCode.BAD_REQUEST, p));
    const existed = await store.delete(p.type, p.guildId, req.params.id);
    if (!existed) return reply.code(404).send(errorBody(ErrorCode.NOT_FOUND, `${p.type} ${req.params.id} does not exist`));
    const message = JSON.stringify({ event: ApiEvent.LOG_POOL, data: { type: p.type, guild_id: req.params.guild_id, id: req.params.id, deleted: true } });
    return publishFor(req, reply, hub, guildStream(req.params.guild_id), message, 200, { deleted: true });
  });

  app.post<{ Params: { guild_id: string } }>('/api/guilds/:guild_id/logs', async (req, reply) => {
    if (!(await service(req, reply, deps.verify))) return reply;
    const posted = req.body;
    if (!validateLogEntryInput.check(posted)) return reply.code(400).send(errorBody(ErrorCode.BAD_REQUEST, validateLogEntryInput.explain(posted)));
    const entry = normalizeLogEntry(posted);
    if (entry.guild_id !== req.params.guild_id) return reply.code(400).send(errorBody(ErrorCode.BAD_REQUEST, 'guild_id differs from the path'));
    return publishFor(req, reply, hub, guildLogsStream(entry.guild_id), JSON.stringify({ event: ApiEvent.LOG_OTHER, data: entry }), 202, { accepted: true });
  });

  app.put<{ Params: { id: string } }>('/api/users/:id/guilds', async (req, reply) => {
    if (!(await service(req, reply, deps.verify))) return reply;
    // The user id is a token subject: the same rule as its own room.
    if (ownRoom(req.params.id, false) === undefined) return reply.code(400).send(errorBody(ErrorCode.BAD_REQUEST, 'invalid user id'));
    if (!validateUserGuildsBody.check(req.body)) return reply.code(400).send(errorBody(ErrorCode.BAD_REQUEST, validateUserGuildsBody.explain(req.body)));
    // Discord's bitfield as digits; beyond 2^53 it could not be a number without rounding.
    if (!req.body.every((g) => Number.isSafeInteger(Number(g.permissions)))) return reply.code(400).send(errorBody(ErrorCode.BAD_REQUEST, 'permissions beyond 2^53'));
    const guilds: UserGuildEntry[] = req.body.map((g) => ({
      id: g.id,
      name: g.name,
      icon: g.icon ?? null,
      owner: g.owner,
      permissions: Number(g.permissions),
      features: g.features ?? [],
    }));
    await store.putUserGuilds(req.params.id, guilds);
    return reply.code(200).send({ stored: true, guilds: guilds.length });
  });

  app.post<{ Params: { id: string } }>('/api/users/:id/messages', async (req, reply) => {
    if (!(await service(req, reply, deps.verify))) return reply;
    // The same rule as the user's own room on the socket: an id that cannot form one is refused.
    const room = ownRoom(req.params.id, false);
    if (room === undefined) return reply.code(400).send(errorBody(ErrorCode.BAD_REQUEST, 'invalid user id'));
    if (!validateUserMessageBody.check(req.body)) return reply.code(400).send(errorBody(ErrorCode.BAD_REQUEST, validateUserMessageBody.explain(req.body)));
    const { event, data } = req.body;
    return publishFor(req, reply, hub, room, JSON.stringify({ event, data }), 202, { accepted: true });
  });
}
