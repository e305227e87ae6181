import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisReplyError, keySlot, redisCommand, redisPipeline, startRedisCluster, startRedisSentinel, type RedisCluster, type RedisSentinel } from './redis-topologies.js';

// The topologies the cluster and sentinel tests run on: real redis-server processes, so these pin
// that they form, fail over and migrate the way the helpers promise (and the ports they hand out).

const seedPorts = (seeds: string): number[] => seeds.split(',').map((s) => Number(/^127\.0\.0\.1:(\d+)$/.exec(s)?.[1]));

/** The error reply a command gets, e.g. MOVED; fails the test if it succeeds. */
async function errorOf(port: number, args: string[]): Promise<string> {
  const err = await redisCommand(port, args).then(
    (value) => new Error(`expected an error reply, got ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  if (!(err instanceof RedisReplyError)) throw err;
  return err.message;
}

describe('keySlot', () => {
  it('is CRC16 mod 16384 with hash tags, as the cluster spec defines', () => {
    expect(keySlot('123456789')).toBe(0x31c3 % 16384); // the CRC16/XMODEM check value
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot('{user1000}.followers')).toBe(keySlot('user1000'));
    expect(keySlot('foo{}{bar}')).not.toBe(keySlot('bar')); // an empty tag: the whole key
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
    expect(keySlot('foo{bar}{zap}')).toBe(keySlot('bar'));
  });
});

describe('startRedisCluster', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);
  afterAll(async () => cluster?.stop(), 60_000);

  it('forms 3 primaries with one replica each, every node ok and the seeds naming them all', async () => {
    const ports = cluster.nodes.map((n) => n.port);
    expect(seedPorts(cluster.seeds)).toEqual(ports);
    expect(new Set(ports).size).toBe(6);
    for (const port of ports) expect(port).toBeLessThan(55_000);
    const primaries = cluster.nodes.filter((n) => n.role === 'primary');
    const replicas = cluster.nodes.filter((n) => n.role === 'replica');
    expect(primaries).toHaveLength(3);
    expect(replicas.map((r) => r.replicaOf).sort()).toEqual(primaries.map((p) => p.port).sort());
    for (const port of ports) {
      const info = String(await redisCommand(port, ['CLUSTER', 'INFO']));
      expect(info).toContain('cluster_state:ok');
      expect(info).toContain('cluster_slots_assigned:16384');
      expect(info).toContain('cluster_known_nodes:6');
      expect(info).toContain('cluster_size:3');
    }
    // slotOf agrees with the server's own CLUSTER KEYSLOT, hash tags included.
    for (const key of ['foo', 'room:42', '{guild:7}:members', 'a{}b', 'ü{ñ}', `k${Date.now()}`]) {
      expect(cluster.slotOf(key)).toBe(await redisCommand(ports[0]!, ['CLUSTER', 'KEYSLOT', key]));
    }
    // primaryForSlot names the owner: it takes the write, another primary redirects there.
    const owner = await cluster.primaryForSlot(cluster.slotOf('room:42'));
    expect(primaries.map((p) => p.port)).toContain(owner);
    expect(await redisCommand(owner, ['SET', 'room:42', 'x'])).toBe('OK');
    const other = primaries.find((p) => p.port !== owner)!.port;
    expect(await errorOf(other, ['GET', 'room:42'])).toBe(`MOVED ${cluster.slotOf('room:42')} 127.0.0.1:${owner}`);
  });

  it('killPrimary promotes the replica, which serves a key written (and replicated) before the kill', async () => {
    const key = 'survives-failover';
    const slot = cluster.slotOf(key);
    const owner = await cluster.primaryForSlot(slot);
    const replica = cluster.nodes.find((n) => n.replicaOf === owner)!;
    // WAIT on the connection that wrote: it counts the replicas that acknowledged that write.
    expect(await redisPipeline(owner, [['SET', key, 'v1'], ['WAIT', 1, 1000]])).toEqual(['OK', 1]);

    const promoted = await cluster.killPrimary(owner);
    expect(promoted).toBe(replica.port);
    expect(await cluster.primaryForSlot(slot)).toBe(promoted);
    expect(cluster.nodes.find((n) => n.port === owner)!.role).toBe('down');
    expect(replica.role).toBe('primary');
    expect(await redisCommand(promoted, ['GET', key])).toBe('v1');
    for (const node of cluster.nodes.filter((n) => n.role !== 'down')) {
      expect(String(await redisCommand(node.port, ['CLUSTER', 'INFO']))).toContain('cluster_state:ok');
    }
  }, 60_000);

  it('migrateSlot moves a slot with its keys: the new owner serves them, the old one answers MOVED', async () => {
    const key = '{migrating}:k';
    const sibling = '{migrating}:other';
    const slot = cluster.slotOf(key);
    const from = await cluster.primaryForSlot(slot);
    const to = cluster.nodes.find((n) => n.role === 'primary' && n.port !== from)!.port;
    expect(await redisCommand(from, ['SET', key, 'moved'])).toBe('OK');
    expect(await redisCommand(from, ['RPUSH', sibling, 'a', 'b'])).toBe(2);

    await cluster.migrateSlot(slot, to);
    expect(await cluster.primaryForSlot(slot)).toBe(to);
    expect(await redisCommand(to, ['GET', key])).toBe('moved');
    expect(await redisCommand(to, ['LRANGE', sibling, 0, -1])).toEqual(['a', 'b']);
    expect(await redisCommand(to, ['CLUSTER', 'COUNTKEYSINSLOT', slot])).toBe(2);
    expect(await errorOf(from, ['GET', key])).toBe(`MOVED ${slot} 127.0.0.1:${to}`);
    // Every node, replicas included, now redirects the slot to the new owner.
    for (const node of cluster.nodes.filter((n) => n.role !== 'down' && n.port !== to)) {
      expect(await errorOf(node.port, ['GET', key])).toBe(`MOVED ${slot} 127.0.0.1:${to}`);
    }
  }, 60_000);
});

describe('startRedisSentinel', () => {
  let sentinel: RedisSentinel;
  beforeAll(async () => {
    sentinel = await startRedisSentinel();
  }, 60_000);
  afterAll(async () => sentinel?.stop(), 60_000);

  it('starts a primary, its replica and three sentinels that agree on the primary', async () => {
    expect(seedPorts(sentinel.sentinels)).toEqual(sentinel.sentinelNodes.map((s) => s.port));
    expect(sentinel.name).toBe('gateway-primary');
    const [primary, replica] = sentinel.servers;
    expect(await sentinel.primaryPort()).toBe(primary!.port);
    expect(await redisCommand(replica!.port, ['ROLE'])).toEqual(['slave', '127.0.0.1', primary!.port, 'connected', expect.any(Number)]);
    for (const s of sentinel.sentinelNodes) {
      expect(await redisCommand(s.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', sentinel.name])).toEqual(['127.0.0.1', String(primary!.port)]);
    }
  });

  it('failover promotes the replica, which serves a key written before', async () => {
    const [primary, replica] = sentinel.servers;
    expect(await redisPipeline(primary!.port, [['SET', 'before-failover', 'v1'], ['WAIT', 1, 1000]])).toEqual(['OK', 1]);

    expect(await sentinel.failover()).toBe(replica!.port);
    expect(await sentinel.primaryPort()).toBe(replica!.port);
    expect(await redisCommand(replica!.port, ['GET', 'before-failover'])).toBe('v1');
    // The old primary now replicates from the new one and refuses writes.
    expect(await redisCommand(primary!.port, ['ROLE'])).toEqual(['slave', '127.0.0.1', replica!.port, 'connected', expect.any(Number)]);
    expect(await errorOf(primary!.port, ['SET', 'x', '1'])).toBe("READONLY You can't write against a read only replica.");
  }, 60_000);

  it('killPrimary promotes the remaining replica, which serves a key written before', async () => {
    const old = await sentinel.primaryPort();
    const survivor = sentinel.servers.find((s) => s.port !== old)!;
    expect(await redisPipeline(old, [['SET', 'before-kill', 'v2'], ['WAIT', 1, 1000]])).toEqual(['OK', 1]);

    expect(await sentinel.killPrimary()).toBe(survivor.port);
    expect(await sentinel.primaryPort()).toBe(survivor.port);
    expect(await redisCommand(survivor.port, ['GET', 'before-kill'])).toBe('v2');
    expect(await redisCommand(survivor.port, ['GET', 'before-failover'])).toBe('v1');
    expect(await redisCommand(survivor.port, ['SET', 'after-kill', 'ok'])).toBe('OK');
  }, 60_000);
});
