import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, errorBody, type TokenClaims } from '@gateway/protocol';
import type { VerifyResult } from '@gateway/server-kit';

export type Verify = (token: string) => Promise<VerifyResult>;

/**
 * The verified claims of the request's `Authorization: Bearer` token, or undefined after a 401.
 * A websocket token (`use: "ws"`) is refused here whatever it carries: it is good for opening one
 * socket session, and an admin's must not work as a service token for its 60 seconds.
 */
export async function bearer(req: FastifyRequest, reply: FastifyReply, verify: Verify): Promise<(TokenClaims & { subject: string }) | undefined> {
  const auth = req.headers.authorization;
  const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
  const verified = token ? await verify(token) : undefined;
  if (!verified?.ok) {
    await reply.code(401).send(errorBody(ErrorCode.TOKEN_REJECTED, verified ? `token refused: ${verified.reason}` : 'a bearer token is required'));
    return undefined;
  }
  if (verified.claims.use === 'ws') {
    await reply.code(401).send(errorBody(ErrorCode.TOKEN_REJECTED, 'a websocket token is accepted on the socket only'));
    return undefined;
  }
  return { ...verified.claims, subject: verified.subject };
}

/** Backend-only endpoints: a token with `service: true` or `admin: true`; else 401/403. */
export async function service(req: FastifyRequest, reply: FastifyReply, verify: Verify): Promise<boolean> {
  const claims = await bearer(req, reply, verify);
  if (!claims) return false;
  if (claims.service !== true && claims.admin !== true) {
    await reply.code(403).send(errorBody(ErrorCode.FORBIDDEN, 'a service or admin token is required'));
    return false;
  }
  return true;
}
