import { describe, expect, it } from 'vitest';
import { readConfig } from './config-schema.js';
import { describeRedisTopology, readRedisTopology, redisSpec, type RedisTopology } from './redis-topology.js';

/** The topology and the problems for an environment holding only `env`. */
function read(env: Record<string, string>): { topology: RedisTopology | undefined; problems: string[] } {
  const problems: string[] = [];
  const topology = readRedisTopology(readConfig(redisSpec, env), env, problems);
  return { topology, problems };
}

describe('readRedisTopology', () => {
  it('reads none, a standalone URL, cluster seeds and a sentinel set', () => {
    expect(read({})).toEqual({ topology: undefined, problems: [] });
    expect(read({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_PASSWORD: 'pw' })).toEqual({
      topology: { kind: 'standalone', url: 'redis://127.0.0.1:6379', password: 'pw', tlsCa: undefined, waitReplicas: 0, waitTimeoutMs: 1000 },
      problems: [],
    });
    expect(read({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, [::1]:7001', REDIS_PASSWORD: 'pw', REDIS_TLS: 'true', REDIS_WAIT_REPLICAS: '1' })).toEqual({
      topology: {
        kind: 'cluster',
        nodes: [
          { host: '10.0.0.1', port: 7000 },
          { host: '::1', port: 7001 },
        ],
        username: undefined,
        password: 'pw',
        tls: { ca: undefined },
        waitReplicas: 1,
        waitTimeoutMs: 1000,
      },
      problems: [],
    });
    const sentinel = read({ REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_NAME: 'gw', REDIS_SENTINEL_PASSWORD: 'sp' });
    expect(sentinel.problems).toEqual([]);
    expect(sentinel.topology).toMatchObject({ kind: 'sentinel', name: 'gw', sentinelPassword: 'sp', sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }] });
  });

  it.each([
    [{ REDIS_URL: 'redis://a:1', REDIS_CLUSTER_NODES: 'b:2' }, /exactly one Redis topology, not REDIS_URL and REDIS_CLUSTER_NODES/],
    [{ REDIS_CLUSTER_NODES: 'b:2', REDIS_SENTINELS: 'c:3', REDIS_SENTINEL_NAME: 'x' }, /not REDIS_CLUSTER_NODES and REDIS_SENTINELS/],
    [{ REDIS_SENTINELS: 'c:3' }, /REDIS_SENTINELS needs REDIS_SENTINEL_NAME/],
    [{ REDIS_SENTINEL_NAME: 'x' }, /REDIS_SENTINEL_NAME needs REDIS_SENTINELS/],
    [{ REDIS_CLUSTER_NODES: 'b' }, /REDIS_CLUSTER_NODES entry "b" must be host:port/],
    [{ REDIS_CLUSTER_NODES: 'b:70000' }, /entry "b:70000" must be host:port/],
    [{ REDIS_URL: 'http://a:1' }, /REDIS_URL must start with redis:\/\/ or rediss:\/\//],
    [{ REDIS_URL: 'redis://a:1', REDIS_TLS: 'true' }, /for REDIS_URL use rediss:\/\//],
    [{ REDIS_URL: 'redis://u:p@a:1', REDIS_PASSWORD: 'q' }, /set one of them/],
    [{ REDIS_PASSWORD: 'q' }, /REDIS_PASSWORD needs a Redis topology/],
    [{ REDIS_CLUSTER: 'a:1' }, /REDIS_CLUSTER is not a setting this build understands/],
    [{ REDIS_HOST: 'a' }, /REDIS_HOST is not a setting/],
    [{ REDIS_CLUSTER_NODES: 'a:1', REDIS_TLS_CA: '/nonexistent/ca.pem', REDIS_TLS: 'true' }, /REDIS_TLS_CA cannot read \/nonexistent\/ca.pem: ENOENT/],
  ])('refuses %o', (env, problem) => {
    const { problems } = read(env as Record<string, string>);
    expect(problems.some((p) => problem.test(p)), problems.join('; ')).toBe(true);
  });

  it('describes a topology without its secrets', () => {
    expect(describeRedisTopology(undefined)).toBe('embedded');
    expect(describeRedisTopology(read({ REDIS_URL: 'rediss://user:secret@h:6380/0' }).topology)).toBe('standalone rediss://***@h:6380/0');
    expect(describeRedisTopology(read({ REDIS_CLUSTER_NODES: 'a:1,b:2', REDIS_PASSWORD: 'secret' }).topology)).toBe('cluster a:1,b:2');
    expect(describeRedisTopology(read({ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_NAME: 'gw', REDIS_TLS: '1' }).topology)).toBe('sentinel gw@a:1 tls');
  });
});
