import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { ErrorCode } from '@gateway/protocol';
import type { createSigner } from '@gateway/protocol/node';
import { bearer, problem, type Verify } from './auth.js';

export const GUEST_TOKEN_TTL_S = 3600;
/** Seed 004: a short-lived, single-use token for the websocket, separate from the primary one. */
export const WS_TOKEN_TTL_S = 60;

/**
 * `POST /api/tokens/guest` mints a guest token (room `guest:<jti>`); `POST /api/tokens/ws`
 * trades a primary token (Authorization header) for a 60-second websocket token that opens one
 * session only (the monolith consumes its `jti` on join).
 */
export function registerTokenRoutes(app: FastifyInstance, deps: { verify: Verify; sign: ReturnType<typeof createSigner> | undefined }): void {
  app.post('/api/tokens/guest', async (_req, reply) => {
    if (!deps.sign) return reply.code(501).send(problem(ErrorCode.UNAVAILABLE, 'token minting needs JWT_SECRET'));
    const token = await deps.sign({ guest: true, jti: randomUUID(), name: 'Guest' }, GUEST_TOKEN_TTL_S);
    return { token, expires_in: GUEST_TOKEN_TTL_S };
  });

  app.post('/api/tokens/ws', async (req, reply) => {
    if (!deps.sign) return reply.code(501).send(problem(ErrorCode.UNAVAILABLE, 'token minting needs JWT_SECRET'));
    const claims = await bearer(req, reply, deps.verify);
    if (!claims) return reply;
    if (claims.use === 'ws') return reply.code(403).send(problem(ErrorCode.FORBIDDEN, 'a websocket token cannot mint another'));
    const { name, guilds, admin, guest } = claims;
    // `sub` carries the identity (a guest's too); `jti` is fresh so it can be consumed once.
    const token = await deps.sign({ sub: claims.subject, guest, name, guilds, admin, use: 'ws', jti: randomUUID() }, WS_TOKEN_TTL_S);
    return { token, expires_in: WS_TOKEN_TTL_S };
  });
}
