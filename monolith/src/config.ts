import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { loadSpec, v, jwtProblems, jwtSpec, samePortProblem, warnOnStderr, type ConfigOf, type Env, type Warn, type Var, linkTlsSpec, runtimeSpec, readLinkTls, type LinkTlsFiles } from '@gateway/server-kit';
import { readRedisTopology, redisSpec, type RedisTopology } from '@gateway/server-kit/redis';

/** Defaults that tests also read. */
export const MONOLITH_DEFAULTS = { GUEST_TOKEN_RATE: 10, GUEST_TOKEN_BURST: 20, MAX_JSON_DEPTH: 32 } as const;

/** A list of browser origins as `Origin` headers spell them (exact match), or `*`. */
function corsOrigins(help: string): Var<string[]> {
  const list = v.list(help);
  return {
    ...list,
    parse(raw) {
      const origins = list.parse(raw);
      const bad = origins.filter((o) => o !== '*' && (!URL.canParse(o) || new URL(o).origin !== o));
      if (bad.length) throw new Error(`must be origins like https://app.example.com (scheme, host, optional port; lower case, no path or trailing slash) or *, got ${bad.map((o) => `"${o}"`).join(', ')}`);
      return origins;
    },
  };
}

/** Every monolith setting, with its default and meaning; the README table is generated from this. */
export const monolithSpec = {
  MONOLITH_HOST: v.renamed('HOST', v.host('Address both ports listen on (loopback by default; set `0.0.0.0` or a private interface so balancers and backends on other machines reach it).', '127.0.0.1')),
  MONOLITH_HTTP_PORT: v.renamed('HTTP_PORT', v.port('HTTP API port (fastify): `/health`, `/ready`, `/metrics`, `/api/...`.', 3000)),
  MONOLITH_LINK_PORT: v.renamed('LINK_PORT', v.port('Port balancers dial for their link (`/link`).', 3001)),
  MONOLITH_ID: v.optional('Unique name of this monolith (default: hostname plus random suffix).'),
  // Redis holds streams (history and pub/sub), room epochs, single-use keys and entities.
  ...redisSpec,
  ...jwtSpec,
  LINK_SECRET: v.string('Shared secret authenticating balancer links both ways by challenge-response; never sent (at least 16 characters).', undefined, { minLength: 16 }),
  ...linkTlsSpec,
  ...runtimeSpec,
  REGISTRY_ADDRESS: v.optional('`host:port` of this monolith\'s link port as balancers should dial it; when set (with a Redis topology), the monolith heartbeats into the Redis registry; port 0 stands for the bound link port.'),
  REGISTRY_TTL_MS: v.int('How long a registry entry lives without renewal (renewed every third of it).', 5000, 300),
  LINK_HEARTBEAT_MS: v.int('Link ping interval; a balancer silent for two intervals is dropped and its connections leave.', 5000, 50),
  LINK_MAX_BUFFER_BYTES: v.int('Unsent bytes to one balancer above which its link is reset (a balancer that stopped reading): the monolith\'s memory stays bounded.', 67108864, 65536),
  GOSSIP_INTERVAL_MS: v.int('How often the full list of loaded rooms is sent to every balancer.', 10000, 100),
  ROOM_UNLOAD_GRACE_MS: v.int('How long an empty room stays loaded, so a page reload does not bounce it.', 5000, 0),
  HISTORY_ROOM_SIZE: v.int('Publications kept per room stream (`room:<room>` broadcasts) for recovery; 0 turns room history off.', 100, 0),
  HISTORY_ROOM_TTL_S: v.int('How long a room publication is kept.', 300, 1),
  HISTORY_USER_SIZE: v.int('Publications kept per user stream (`user:<id>` messages); 0 turns it off.', 100, 0),
  HISTORY_USER_TTL_S: v.int('How long a user publication is kept.', 300, 1),
  HISTORY_GUILD_SIZE: v.int('Publications kept per guild pool stream (`guild:<id>`, `log_pool`); 0 turns it off.', 200, 0),
  HISTORY_GUILD_TTL_S: v.int('How long a pool update is kept.', 300, 1),
  HISTORY_LOGS_SIZE: v.int('Log entries kept per guild log stream (`guild:<id>:logs`, `log_other`), also what `history` serves; 0 turns it off.', 1000, 0),
  HISTORY_LOGS_TTL_S: v.int('How long a log entry is kept.', 86400, 1),
  HISTORY_WINDOW: v.int('Recent publications a monolith keeps in memory per subscribed stream, so a reconnect storm recovers without a Redis read per client.', 100, 0),
  MAX_REPLAY: v.int('Most publications replayed to one connection per stream; a longer gap answers `recovered: false`.', 1000, 1),
  RESYNC_SUBSCRIBE_MS: v.int('After a failover re-join, how long the monolith waits for the client\'s `recover` (with its positions) before it delivers the session\'s live pushes without one.', 2000, 0),
  DRAIN_TIMEOUT_MS: v.int('On SIGTERM, how long to wait for balancers to move every connection elsewhere before exiting.', 10000, 0),
  INTERPRET_RATE: v.int('Mock-bot requests (`interpret` and `mock_user_event` together) per second per connection (token bucket refill).', 5, 1),
  INTERPRET_BURST: v.int('Token bucket size for `INTERPRET_RATE`.', 10, 1),
  GUEST_TOKEN_RATE: v.int('`POST /api/tokens/guest` per minute per client address (IPv6: per /64; token bucket refill); the excess is answered 429 with `Retry-After`.', MONOLITH_DEFAULTS.GUEST_TOKEN_RATE, 1),
  GUEST_TOKEN_BURST: v.int('Token bucket size for `GUEST_TOKEN_RATE`.', MONOLITH_DEFAULTS.GUEST_TOKEN_BURST, 1),
  MAX_JSON_DEPTH: v.int('Deepest object/array nesting a client message may have; deeper ones are answered `bad_request` unhandled (the balancer refuses them first, with its own `MAX_JSON_DEPTH`: keep the two equal).', MONOLITH_DEFAULTS.MAX_JSON_DEPTH, 1),
  MONOLITH_CORS_ORIGINS: corsOrigins('Comma-separated origins (`https://app.example.com`) whose pages may call `POST /api/tokens/guest` and `POST /api/tokens/ws` from the browser (CORS, preflight included; no other endpoint answers cross-origin); `*` allows any origin; empty sends no CORS headers.'),
  TRUSTED_PROXY_HEADER: v.optional('Header whose last comma-separated hop is the client address for per-address limits (e.g. `x-forwarded-for`), set only behind a proxy that writes it; unset uses the TCP peer address.'),
  MONOLITH_EVENTS_MODULE: v.optional('Path of an ES module whose default export registers your own gateway events next to the built-in ones (docs/protocol.md, "Your own events"); loaded at start-up, a module that cannot be loaded stops it with exit 2.'),
  DEMO_FIXTURE: v.bool('Load the demo guilds, members and auto responses at start-up (`npm start` sets it in embedded mode).', false),
  MAX_HTTP_BODY_BYTES: v.int('Largest HTTP request body accepted.', 1048576, 1024),
  MONOLITH_LOG_LEVEL: v.renamed('LOG_LEVEL', v.oneOf('`debug`, `info`, `warn` or `error`.', 'info', ['debug', 'info', 'warn', 'error'] as const)),
};

export type MonolithConfig = ConfigOf<typeof monolithSpec> & {
  readonly MONOLITH_ID: string;
  readonly linkTls: LinkTlsFiles;
  /** Where Redis is; undefined runs embedded (one monolith). */
  readonly redis: RedisTopology | undefined;
};

/**
 * Reads and checks the environment (the only place that reads `process.env`): every problem of a
 * run in one ConfigError; warnings (a former name, an unknown `MONOLITH_`... variable) go to `warn`.
 */
export function loadConfig(env: Env = process.env, warn: Warn = warnOnStderr('monolith')): MonolithConfig {
  return loadSpec('monolith', monolithSpec, env, warn, (config, problems, failed) => {
    problems.push(...jwtProblems(config, failed));
    problems.push(...samePortProblem(config, 'MONOLITH_HTTP_PORT', 'MONOLITH_LINK_PORT', failed));
    const redis = readRedisTopology(config, env, problems);
    if (config.MONOLITH_ID !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(config.MONOLITH_ID)) {
      problems.push('MONOLITH_ID must be 1-64 characters of letters, digits, ".", "_" or "-"');
    }
    if (config.REGISTRY_ADDRESS !== undefined && !redis) problems.push('REGISTRY_ADDRESS needs a Redis topology (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS: the registry lives in Redis)');
    const linkTls = readLinkTls(config, problems);
    if (config.LINK_TLS_CA !== undefined && config.LINK_TLS_CERT === undefined) problems.push('LINK_TLS_CA needs LINK_TLS_CERT and LINK_TLS_KEY (the monolith serves wss:// with them)');
    const id = config.MONOLITH_ID ?? `${hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 40)}-${randomBytes(3).toString('hex')}`;
    return { ...config, MONOLITH_ID: id, linkTls, redis };
  });
}
