import { readFileSync } from 'node:fs';
import { v, type ConfigOf } from './config-schema.js';

/**
 * Where Redis is, for both services (the monolith's streams, store and coordination; the
 * balancer's registry discovery): exactly one of a standalone URL, Redis Cluster seed nodes, or
 * a Sentinel set, with credentials and TLS for each. Spread `redisSpec` into a service's spec
 * and call `readRedisTopology`.
 */
export const redisSpec = {
  REDIS_URL: v.optional('Standalone Redis, `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. One of `REDIS_URL`, `REDIS_CLUSTER_NODES`, `REDIS_SENTINELS`; none runs everything embedded in process (one monolith).'),
  REDIS_CLUSTER_NODES: v.list('Redis Cluster seed nodes, `host:port,host:port,...` (any reachable subset; the rest is discovered). Stream channels use sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`, Redis 7+).'),
  REDIS_SENTINELS: v.list('Redis Sentinel addresses, `host:port,...`; the primary is asked of them and followed through failovers. Needs `REDIS_SENTINEL_NAME`.'),
  REDIS_SENTINEL_NAME: v.optional('The primary\'s name the sentinels monitor (`sentinel monitor <name> ...`).'),
  REDIS_USERNAME: v.optional('ACL user for cluster or sentinel-managed nodes (standalone: put it in `REDIS_URL`).'),
  REDIS_PASSWORD: v.optional('Password for cluster or sentinel-managed nodes, or for `REDIS_URL` when the URL has none.'),
  REDIS_SENTINEL_PASSWORD: v.optional('Password of the sentinels themselves, when they require one.'),
  REDIS_TLS: v.bool('TLS to cluster or sentinel-managed nodes (standalone: use `rediss://`).', false),
  REDIS_TLS_CA: v.optional('PEM file of the CA that signs the Redis servers\' certificates (default: the system\'s CAs).'),
  REDIS_WAIT_REPLICAS: v.int('Replicas that must hold a publication (`WAIT`) before its publisher is told it is stored, so a failover that promotes one of them keeps every acknowledged publication, through a primary\'s crash or a network partition; 0 acknowledges on the primary\'s word (asynchronous replication, as every peer does by default): a primary\'s crash then loses what it had not yet replicated. Over 0, a shard left without that many replicas answers every publish 503 until one returns: run one replica more than this.', 0, 0, 16),
  REDIS_WAIT_TIMEOUT_MS: v.int('How long a publish waits for `REDIS_WAIT_REPLICAS`; short of them it is answered 503 (retry with the same idempotency key: it lands once).', 1000, 1),
};

export type RedisConfig = ConfigOf<typeof redisSpec>;

export interface HostPort {
  host: string;
  port: number;
}

interface Auth {
  username: string | undefined;
  password: string | undefined;
  /** PEM of the CA; undefined with `tls` uses the system's CAs. */
  tls: { ca: string | undefined } | undefined;
}

export type RedisTopology =
  | { kind: 'standalone'; url: string; password: string | undefined; tlsCa: string | undefined; waitReplicas: number; waitTimeoutMs: number }
  | ({ kind: 'cluster'; nodes: HostPort[]; waitReplicas: number; waitTimeoutMs: number } & Auth)
  | ({ kind: 'sentinel'; sentinels: HostPort[]; name: string; sentinelPassword: string | undefined; waitReplicas: number; waitTimeoutMs: number } & Auth);

const TOPOLOGY_VARS = ['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'] as const;

/** `host:port` → HostPort, or a problem naming the variable. */
function hostPorts(name: string, entries: string[], problems: string[]): HostPort[] {
  const out: HostPort[] = [];
  for (const entry of entries) {
    const m = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(entry);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) problems.push(`${name} entry "${entry}" must be host:port`);
    else out.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port });
  }
  return out;
}

/**
 * The configured topology, or undefined when none is set (embedded mode). Pushes a problem for
 * two topologies at once, a sentinel set without its name, TLS or credential variables that
 * the chosen topology does not use, and any other `REDIS_*` variable in `env` (a misspelt or
 * unsupported one must not be ignored silently).
 */
export function readRedisTopology(config: RedisConfig, env: Record<string, string | undefined>, problems: string[]): RedisTopology | undefined {
  for (const name of Object.keys(env)) {
    if (name.startsWith('REDIS_') && !(name in redisSpec) && env[name] !== undefined) {
      problems.push(`${name} is not a setting this build understands (Redis settings: ${Object.keys(redisSpec).join(', ')})`);
    }
  }
  const set = TOPOLOGY_VARS.filter((name) => (name === 'REDIS_URL' ? config.REDIS_URL !== undefined : config[name].length > 0));
  if (set.length > 1) problems.push(`set exactly one Redis topology, not ${set.join(' and ')}`);
  if (config.REDIS_SENTINEL_NAME !== undefined && config.REDIS_SENTINELS.length === 0) problems.push('REDIS_SENTINEL_NAME needs REDIS_SENTINELS');
  if (config.REDIS_SENTINEL_PASSWORD !== undefined && config.REDIS_SENTINELS.length === 0) problems.push('REDIS_SENTINEL_PASSWORD needs REDIS_SENTINELS');
  let tlsCa: string | undefined;
  if (config.REDIS_TLS_CA !== undefined) {
    try {
      tlsCa = readFileSync(config.REDIS_TLS_CA, 'utf8');
      if (!tlsCa.includes('-----BEGIN ')) problems.push(`REDIS_TLS_CA file ${config.REDIS_TLS_CA} is not PEM`);
    } catch (err) {
      problems.push(`REDIS_TLS_CA cannot read ${config.REDIS_TLS_CA}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const wait = { waitReplicas: config.REDIS_WAIT_REPLICAS, waitTimeoutMs: config.REDIS_WAIT_TIMEOUT_MS };
  const [kind] = set;
  if (kind === undefined) {
    for (const name of ['REDIS_USERNAME', 'REDIS_PASSWORD', 'REDIS_TLS_CA'] as const) if (config[name] !== undefined) problems.push(`${name} needs a Redis topology (${TOPOLOGY_VARS.join(', ')})`);
    if (config.REDIS_TLS) problems.push(`REDIS_TLS needs a Redis topology (${TOPOLOGY_VARS.join(', ')})`);
    return undefined;
  }
  if (kind === 'REDIS_URL') {
    const url = config.REDIS_URL!;
    if (!/^rediss?:\/\/[^\s]+$/.test(url)) problems.push('REDIS_URL must start with redis:// or rediss://');
    if (config.REDIS_TLS) problems.push('REDIS_TLS applies to cluster and sentinel nodes; for REDIS_URL use rediss://');
    if (config.REDIS_USERNAME !== undefined) problems.push('REDIS_USERNAME applies to cluster and sentinel nodes; put the user in REDIS_URL');
    if (config.REDIS_PASSWORD !== undefined && /^rediss?:\/\/[^/]*:[^/]*@/.test(url)) problems.push('REDIS_PASSWORD and a password in REDIS_URL: set one of them');
    if (tlsCa !== undefined && !url.startsWith('rediss://')) problems.push('REDIS_TLS_CA needs a rediss:// REDIS_URL');
    return { kind: 'standalone', url, password: config.REDIS_PASSWORD, tlsCa, ...wait };
  }
  const auth: Auth = {
    username: config.REDIS_USERNAME,
    password: config.REDIS_PASSWORD,
    tls: config.REDIS_TLS ? { ca: tlsCa } : undefined,
  };
  if (tlsCa !== undefined && !config.REDIS_TLS) problems.push('REDIS_TLS_CA needs REDIS_TLS=true');
  if (kind === 'REDIS_CLUSTER_NODES') {
    return { kind: 'cluster', nodes: hostPorts(kind, config.REDIS_CLUSTER_NODES, problems), ...auth, ...wait };
  }
  if (config.REDIS_SENTINEL_NAME === undefined) problems.push('REDIS_SENTINELS needs REDIS_SENTINEL_NAME (the monitored primary\'s name)');
  return {
    kind: 'sentinel',
    sentinels: hostPorts(kind, config.REDIS_SENTINELS, problems),
    name: config.REDIS_SENTINEL_NAME ?? '',
    sentinelPassword: config.REDIS_SENTINEL_PASSWORD,
    ...auth,
    ...wait,
  };
}

/** One line for start-up logs: the topology without secrets. */
export function describeRedisTopology(t: RedisTopology | undefined): string {
  if (!t) return 'embedded';
  const list = (nodes: HostPort[]) => nodes.map((n) => `${n.host}:${n.port}`).join(',');
  switch (t.kind) {
    case 'standalone':
      return `standalone ${t.url.replace(/\/\/[^@/]*@/, '//***@')}`;
    case 'cluster':
      return `cluster ${list(t.nodes)}${t.tls ? ' tls' : ''}`;
    case 'sentinel':
      return `sentinel ${t.name}@${list(t.sentinels)}${t.tls ? ' tls' : ''}`;
  }
}
