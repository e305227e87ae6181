import { randomBytes } from 'node:crypto';
import { loadSpec, v, jwtProblems, jwtSpec, samePortProblem, warnOnStderr, type ConfigOf, type Env, type Warn, linkTlsSpec, runtimeSpec, readLinkTls, type LinkTlsFiles } from '@gateway/server-kit';
import { readRedisTopology, redisSpec, type RedisTopology } from '@gateway/server-kit/redis';

/** Every balancer setting, with its default and meaning; the README table is generated from this. */
export const balancerSpec = {
  BALANCER_HOST: v.host('Address the client port listens on; loopback by default, set `0.0.0.0` (or the public interface) in production.', '127.0.0.1'),
  BALANCER_PORT: v.port('Port for client websockets (`/ws`, `/api/room/:room`) and `/health`, `/ready` (for load balancers).', 8080),
  ADMIN_HOST: v.host('Address the admin port listens on (`/metrics`, `/health`, `/ready`); keep it off the public network: `/metrics` lists internal addresses.', '127.0.0.1'),
  ADMIN_PORT: v.port('Admin port (`/metrics`, `/health`, `/ready`); 0 picks a free port (printed in the ready line).', 9090),
  BALANCER_ID: v.optional('Name of this balancer in logs and connection ids (default: random).'),
  BALANCER_REUSE_PORT: v.bool('Bind `BALANCER_PORT` with `SO_REUSEPORT`, so several balancer processes on this host share it and the kernel spreads new connections over them (each serves at most 20,000 sockets where a process may open 20,000 files). Every process on the port must set it: one without it is refused while others hold the port, and they are refused while it does. `ADMIN_PORT` stays exclusive: give each process its own, or 0.', false),
  BALANCER_WORKERS: v.int('Balancer processes this one runs on `BALANCER_PORT`. Over 1 it is a primary that serves nothing itself: it refuses a port already held, then forks that many balancers with `BALANCER_REUSE_PORT`, `BALANCER_ID` `<id>-1` … `<id>-N` and `ADMIN_PORT` + 0 … N-1 (0: each its own free port), each with its own `/metrics`; prints one ready line listing them, restarts one that dies (back-off), passes SIGTERM (drain) and SIGINT to all and exits when they have.', 1, 1, 64),
  MONOLITHS: v.list('Static monolith link addresses, `host:port,host:port`.'),
  MONOLITH_DNS: v.optional('`host:port` whose A/AAAA records are the monoliths (e.g. a Kubernetes headless service); polled.'),
  DNS_POLL_MS: v.int('How often `MONOLITH_DNS` is re-resolved.', 5000, 100),
  MONOLITH_REGISTRY: v.optional('Discover monoliths from the Redis registry (monoliths with `REGISTRY_ADDRESS` heartbeat into it): `redis` reads it from the Redis the `REDIS_*` settings name (any topology, as the monoliths\' own), or a `redis://`/`rediss://` URL of a standalone Redis; overrides `MONOLITHS`/`MONOLITH_DNS`.'),
  REGISTRY_POLL_MS: v.int('How often the registry is read.', 1000, 100),
  // Where the registry lives, with MONOLITH_REGISTRY=redis: the monoliths' own settings.
  ...redisSpec,
  ...jwtSpec,
  LINK_SECRET: v.string('Shared secret authenticating balancer ↔ monolith links both ways by challenge-response; never sent (at least 16 characters).', undefined, { minLength: 16 }),
  ...linkTlsSpec,
  ...runtimeSpec,
  AUTH_TIMEOUT_MS: v.int('Time a new socket has to send its `auth` frame.', 5000, 50),
  MAX_PAYLOAD_BYTES: v.int('Largest client frame accepted; larger frames close the socket with 4108.', 65536, 128),
  MAX_BACKPRESSURE_BYTES: v.int('Send buffer per socket above which a slow consumer is closed with 4003 (uWS queues at most twice this).', 1048576, 1024),
  MAX_CONNECTIONS: v.int('Client sockets this balancer serves; further sockets are closed right after the upgrade with 4005.', 100000, 1),
  MAX_UNAUTHENTICATED: v.int('Sockets that have not finished auth, balancer-wide; further sockets are closed right after the upgrade with 4005 (a budget apart from authenticated users).', 10000, 1),
  MAX_UNAUTHENTICATED_PER_IP: v.int('Sockets that have not finished auth per client address (IPv6: per /64); further sockets from it are closed with 4002.', 50, 1),
  CONNECT_RATE: v.int('New client sockets per second this balancer admits (token bucket); the excess is closed with 4002 right after the upgrade.', 5000, 1),
  CONNECT_BURST: v.int('Token bucket size for `CONNECT_RATE`.', 10000, 1),
  CONNECT_RATE_PER_IP: v.int('New client sockets per second per client address (IPv6: per /64; token bucket); the excess is closed with 4002.', 20, 1),
  CONNECT_BURST_PER_IP: v.int('Token bucket size for `CONNECT_RATE_PER_IP`.', 50, 1),
  TRUSTED_PROXY_HEADER: v.optional('Header whose last comma-separated hop is the client address (e.g. `x-forwarded-for`), set only behind a proxy that writes it; unset uses the TCP peer address.'),
  DRAIN_WINDOW_MS: v.int('On SIGTERM, client closes (4000, reconnect) are spread evenly over this window, so a deploy causes no reconnect spike.', 10000, 0),
  MESSAGE_RATE: v.int('Client frames per second per socket, websocket pings included (token bucket refill); exceeding the burst closes with 4109.', 100, 1),
  MESSAGE_BURST: v.int('Token bucket size for `MESSAGE_RATE`.', 200, 1),
  MAX_JSON_DEPTH: v.int('Deepest object/array nesting accepted in a client frame; deeper frames close the socket with 4112.', 32, 1),
  ALLOWED_ORIGINS: v.list('Browser origins allowed to connect (comma separated; others are closed with 4111); empty allows any.'),
  BALANCER_AUTH_COOKIE: v.string('Cookie holding the JWT on the upgrade of architus-dialect sockets (`/authenticated`, `/ws?dialect=architus`); read only when the request\'s `Origin` is in `ALLOWED_ORIGINS`.', 'token', { minLength: 1 }),
  MAX_ANONYMOUS_GUESTS: v.int('Tokenless guest sessions (architus-dialect sockets without a sign-in cookie, the front page\'s mock bot) this balancer serves; 0 turns them off (such sockets close with 4101).', 10000, 0),
  ANONYMOUS_GUESTS_PER_IP: v.int('Tokenless guest sessions per client address (IPv6: per /64); further ones close with 4002.', 10, 0),
  ANONYMOUS_MESSAGE_RATE: v.int('Client frames per second per tokenless guest socket (their own budget, below `MESSAGE_RATE`); exceeding the burst closes with 4109.', 20, 1),
  ANONYMOUS_MESSAGE_BURST: v.int('Token bucket size for `ANONYMOUS_MESSAGE_RATE`.', 40, 1),
  IDLE_TIMEOUT_S: v.int('Seconds without traffic before uWS pings/closes a socket.', 120, 8, 960),
  LINK_BACKOFF_MIN_MS: v.int('First link reconnect delay (full jitter, doubling).', 100, 1),
  LINK_BACKOFF_MAX_MS: v.int('Cap on the link reconnect delay.', 5000, 1),
  LINK_HEARTBEAT_MS: v.int('Link ping interval; a link silent for two intervals is reset.', 5000, 50),
  LINK_MAX_BUFFER_BYTES: v.int('Unsent bytes on a link above which it is reset (a stalled monolith).', 67108864, 65536),
  BALANCER_LOG_LEVEL: v.renamed('LOG_LEVEL', v.oneOf('`debug`, `info`, `warn` or `error`.', 'info', ['debug', 'info', 'warn', 'error'] as const)),
};

export type BalancerConfig = ConfigOf<typeof balancerSpec> & {
  readonly BALANCER_ID: string;
  readonly linkTls: LinkTlsFiles;
  /** The registry's Redis, when MONOLITH_REGISTRY is set. */
  readonly registry: RedisTopology | undefined;
};

/** The environment BALANCER_WORKERS' balancers start with: this process's, as the config was read from. */
export function workerEnvironment(): Env {
  return process.env;
}

/**
 * Reads and checks the environment (the only place that reads `process.env`): every problem of a
 * run in one ConfigError; warnings (a former name, an unknown `BALANCER_`... variable) go to `warn`.
 */
export function loadConfig(env: Env = process.env, warn: Warn = warnOnStderr('balancer')): BalancerConfig {
  return loadSpec('balancer', balancerSpec, env, warn, (config, problems, failed) => {
    problems.push(...jwtProblems(config, failed));
    problems.push(...samePortProblem(config, 'BALANCER_PORT', 'ADMIN_PORT', failed));
    if (config.MONOLITHS.length === 0 && !config.MONOLITH_DNS && !config.MONOLITH_REGISTRY) {
      problems.push('MONOLITHS is required (or MONOLITH_DNS / MONOLITH_REGISTRY)');
    }
    const registry = readRegistry(config, env, problems);
    for (const address of [...config.MONOLITHS, ...(config.MONOLITH_DNS ? [config.MONOLITH_DNS] : [])]) {
      if (!/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(address)) {
        problems.push(`${config.MONOLITH_DNS === address ? 'MONOLITH_DNS' : 'MONOLITHS'} entry "${address}" must be host:port`);
      }
    }
    if (config.LINK_BACKOFF_MAX_MS < config.LINK_BACKOFF_MIN_MS) problems.push('LINK_BACKOFF_MAX_MS must be >= LINK_BACKOFF_MIN_MS');
    const linkTls = readLinkTls(config, problems);
    if (config.LINK_TLS_CERT !== undefined && config.LINK_TLS_CA === undefined) problems.push('LINK_TLS_CERT needs LINK_TLS_CA (the balancer dials wss:// only when it can verify monoliths)');
    if (config.BALANCER_ID !== undefined && !/^[A-Za-z0-9_.:-]{1,64}$/.test(config.BALANCER_ID)) {
      problems.push('BALANCER_ID must be 1-64 characters of letters, digits, ".", "_", ":" or "-"');
    }
    problems.push(...sharedPortProblems(config, failed));
    return { ...config, BALANCER_ID: config.BALANCER_ID ?? `b-${randomBytes(3).toString('hex')}`, linkTls, registry };
  });
}

/** BALANCER_REUSE_PORT and BALANCER_WORKERS need a fixed port, and N workers N admin ports clear of it. */
function sharedPortProblems(config: ConfigOf<typeof balancerSpec>, failed: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const workers = config.BALANCER_WORKERS;
  const port = config.BALANCER_PORT;
  // 0 gives every process a free port of its own: nothing would be shared.
  if (!failed.has('BALANCER_PORT') && port === 0) {
    if (config.BALANCER_REUSE_PORT) problems.push('BALANCER_REUSE_PORT needs a fixed BALANCER_PORT (0 gives each process a port of its own)');
    if (workers > 1) problems.push('BALANCER_WORKERS over 1 needs a fixed BALANCER_PORT (0 gives each worker a port of its own)');
  }
  const admin = config.ADMIN_PORT;
  if (workers > 1 && admin !== 0 && !failed.has('ADMIN_PORT') && !failed.has('BALANCER_WORKERS')) {
    if (admin + workers - 1 > 65535) problems.push(`ADMIN_PORT ${admin} + BALANCER_WORKERS ${workers} - 1 is beyond 65535: the workers take ADMIN_PORT … ADMIN_PORT + ${workers - 1}`);
    else if (port > admin && port < admin + workers) problems.push(`BALANCER_PORT ${port} is among the workers' admin ports ADMIN_PORT ${admin} … ${admin + workers - 1}`);
  }
  if (workers > 1 && config.BALANCER_ID !== undefined && config.BALANCER_ID.length > 64 - `-${workers}`.length) {
    problems.push(`BALANCER_ID must leave room for the workers' suffix -1 … -${workers} (at most ${64 - `-${workers}`.length} characters)`);
  }
  return problems;
}

/** MONOLITH_REGISTRY: `redis` (the REDIS_* topology) or a standalone URL (then no REDIS_* topology). */
function readRegistry(config: ConfigOf<typeof balancerSpec>, env: Env, problems: string[]): RedisTopology | undefined {
  const value = config.MONOLITH_REGISTRY;
  if (value !== undefined && /^rediss?:\/\//.test(value)) {
    const topology = readRedisTopology(config, env, problems);
    if (topology) problems.push('MONOLITH_REGISTRY is a URL and a Redis topology is set too: set MONOLITH_REGISTRY=redis to use the topology, or drop it');
    return readRedisTopology({ ...config, REDIS_URL: value }, {}, problems);
  }
  const topology = readRedisTopology(config, env, problems);
  if (value === undefined) {
    if (topology) problems.push('a Redis topology is set but nothing uses it: set MONOLITH_REGISTRY=redis to discover monoliths from its registry');
    return undefined;
  }
  if (value !== 'redis') problems.push('MONOLITH_REGISTRY must be `redis` or start with redis:// or rediss://');
  else if (!topology) problems.push('MONOLITH_REGISTRY=redis needs a Redis topology: REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS');
  return topology;
}
