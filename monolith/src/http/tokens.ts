import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrorCode, errorBody } from '@gateway/protocol';
import { fullBucket, isFull, msUntilToken, takeToken, type Bucket, requestSource, type createSigner } from '@gateway/server-kit';
import { bearer, type Verify } from './auth.js';
import { registerBrowserCors } from './cors.js';

export const GUEST_TOKEN_TTL_S = 3600;
/** Seed 004: a short-lived, single-use token for the websocket, separate from the primary one. */
export const WS_TOKEN_TTL_S = 60;

/** `GUEST_TOKEN_RATE` (per minute), `GUEST_TOKEN_BURST` and `TRUSTED_PROXY_HEADER`. */
export interface GuestTokenLimit {
  perMinute: number;
  burst: number;
  /** Lower-case header name of a trusted proxy's client address, or undefined for the peer. */
  proxyHeader?: string | undefined;
}

/** Sources with a bucket that has not refilled; past it the oldest is forgotten (bounded memory). */
export const MAX_GUEST_SOURCES = 100_000;
const SWEEP_EVERY_MS = 60_000;

/** Per-source token buckets; `take` answers 0 when a token was taken, else ms until one. */
export class SourceLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private sweptAt = 0;
  private readonly rate: number;

  constructor(
    perMinute: number,
    private readonly burst: number,
    private readonly maxSources = MAX_GUEST_SOURCES,
  ) {
    this.rate = perMinute / 60;
  }

  get size(): number {
    return this.buckets.size;
  }

  take(source: string, now: number): number {
    if (now - this.sweptAt >= SWEEP_EVERY_MS) this.sweep(now);
    let bucket = this.buckets.get(source);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxSources) this.buckets.delete(this.buckets.keys().next().value!);
      bucket = fullBucket(now, this.burst);
      this.buckets.set(source, bucket);
    }
    return takeToken(bucket, now, this.rate, this.burst) ? 0 : msUntilToken(bucket, now, this.rate, this.burst);
  }

  /** Forgets the buckets that are full again (the same as absent). */
  sweep(now: number): void {
    this.sweptAt = now;
    for (const [source, bucket] of this.buckets) if (isFull(bucket, now, this.rate, this.burst)) this.buckets.delete(source);
  }
}

function sourceOf(req: FastifyRequest, proxyHeader: string | undefined): string {
  const header = proxyHeader === undefined ? undefined : req.headers[proxyHeader];
  return requestSource(req.ip, Array.isArray(header) ? header.join(',') : header);
}

/**
 * `POST /api/tokens/guest` mints a guest token (room `guest:<jti>`), rate limited per client
 * address (429 with `Retry-After`); `POST /api/tokens/ws` trades a primary token (Authorization
 * header) for a 60-second websocket token that opens one session only (the monolith consumes its
 * `jti` on join) and is refused by every HTTP endpoint, this one included. A browser app calls
 * both itself: they answer the `corsOrigins` (`MONOLITH_CORS_ORIGINS`) cross-origin, preflight
 * included; no other endpoint does. Registered as a plugin: the routes exist once the app is ready.
 */
export function registerTokenRoutes(
  app: FastifyInstance,
  deps: {
    verify: Verify;
    sign: ReturnType<typeof createSigner> | undefined;
    guestLimit: GuestTokenLimit;
    corsOrigins?: readonly string[];
    now?: () => number;
  },
): void {
  const limit = deps.guestLimit;
  const limiter = new SourceLimiter(limit.perMinute, limit.burst);
  const proxyHeader = limit.proxyHeader?.toLowerCase();
  const now = deps.now ?? Date.now;

  // Its own plugin context: the CORS hooks apply to these two routes only.
  void app.register(
    async (scope) => {
      await registerBrowserCors(scope, deps.corsOrigins ?? []);

      scope.post('/guest', async (req, reply) => {
        if (!deps.sign) return reply.code(501).send(errorBody(ErrorCode.UNAVAILABLE, 'token minting needs JWT_SECRET'));
        const waitMs = limiter.take(sourceOf(req, proxyHeader), now());
        if (waitMs > 0) {
          return reply
            .code(429)
            .header('retry-after', String(Math.ceil(waitMs / 1000)))
            .send(errorBody(ErrorCode.RATE_LIMITED, `at most ${limit.perMinute} guest tokens per minute from one address`));
        }
        const token = await deps.sign({ guest: true, jti: randomUUID(), name: 'Guest' }, GUEST_TOKEN_TTL_S);
        return { token, expires_in: GUEST_TOKEN_TTL_S };
      });

      scope.post('/ws', async (req, reply) => {
        if (!deps.sign) return reply.code(501).send(errorBody(ErrorCode.UNAVAILABLE, 'token minting needs JWT_SECRET'));
        // bearer() refuses a websocket token (401): one cannot mint another.
        const claims = await bearer(req, reply, deps.verify);
        if (!claims) return reply;
        const { name, guilds, admin, guest } = claims;
        // `sub` carries the identity (a guest's too); `jti` is fresh so it can be consumed once.
        const token = await deps.sign({ sub: claims.subject, guest, name, guilds, admin, use: 'ws', jti: randomUUID() }, WS_TOKEN_TTL_S);
        return { token, expires_in: WS_TOKEN_TTL_S };
      });
    },
    { prefix: '/api/tokens' },
  );
}
