import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

/** How long a browser may reuse a preflight's answer (seconds). */
const PREFLIGHT_MAX_AGE_S = 600;

/**
 * CORS for the endpoints a browser app calls itself (`MONOLITH_CORS_ORIGINS`), on `scope` only:
 * registered inside the token routes' plugin, so the service-token endpoints never answer a
 * cross-origin request (a service token does not belong in a browser). An origin not listed
 * gets no `Access-Control-Allow-Origin`, so its page cannot read the answer; `*` allows any.
 * No cookies are involved (the primary token travels in `Authorization`), hence no credentials.
 * `Retry-After` is exposed so a page can honour a 429.
 */
export async function registerBrowserCors(scope: FastifyInstance, origins: readonly string[]): Promise<void> {
  if (origins.length === 0) return;
  await scope.register(cors, {
    origin: origins.includes('*') ? '*' : [...origins],
    methods: ['POST'],
    allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
    exposedHeaders: ['retry-after', 'x-request-id'],
    maxAge: PREFLIGHT_MAX_AGE_S,
  });
}
