import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REGISTRY_KEY, guildLogsStream } from '@gateway/protocol';
import { startRedisCluster, type RedisCluster } from '../../testing/redis-topologies.js';
import { startStack, useHarness, waitFor, type Stack } from '../harness/index.js';
import { endScenario, uniqGuild } from '../harness/delivery-scenario.js';
import { readyOf } from '../harness/gateway-http.js';
import { channelOf } from '../harness/streams.js';
import { topologyFault, type Running } from '../harness/topology-scenario.js';

useHarness();

// 2 monoliths × 2 balancers on a real Redis Cluster (3 primaries, 2 replicas each), the balancers
// finding the monoliths in the registry on that cluster (MONOLITH_REGISTRY=redis, MONOLITHS
// blank); spectators of six guilds whose log streams live two on each shard, under a steady
// stream of numbered publications. A slot migration, then a primary's kill -9: no spectator is
// closed or moved, every acknowledged publication reaches every spectator once. The kill runs on
// REDIS_WAIT_REPLICAS=1 (replication is asynchronous: without WAIT, what the killed primary
// acknowledged but had not yet replicated is gone); two replicas per primary leave the promoted
// one a replica to wait for.

let cluster: RedisCluster;
const running: Running = { clients: [] };
beforeAll(async () => {
  cluster = await startRedisCluster({ replicas: 2 });
}, 60_000);
afterEach(async () => {
  await endScenario(running);
  Object.assign(running, { stack: undefined, publisher: undefined, clients: [] });
});
afterAll(async () => {
  await cluster?.stop();
});

const primaries = (): number[] => cluster.nodes.filter((n) => n.role === 'primary').map((n) => n.port);
const replication = async (): Promise<Array<[number, number]>> => cluster.nodes.filter((n) => n.role === 'replica').map((n) => [n.replicaOf!, n.port]);
const ownerOf = (key: string): Promise<number> => cluster.primaryForSlot(cluster.slotOf(key));

/** Fresh guilds, `perShard` per primary, so the spectated log streams live on every shard. */
async function guildsOnEveryShard(perShard = 2): Promise<string[]> {
  const byOwner = new Map<number, string[]>(primaries().map((p) => [p, []]));
  while ([...byOwner.values()].some((list) => list.length < perShard)) {
    const guild = uniqGuild();
    const list = byOwner.get(await ownerOf(channelOf(guildLogsStream(guild))))!;
    if (list.length < perShard) list.push(guild);
  }
  return [...byOwner.values()].flat();
}

/** The stack, its balancers linked from the cluster's registry alone. */
async function registryStack(waitReplicas: number): Promise<Stack> {
  const redis = { REDIS_CLUSTER_NODES: cluster.seeds, REDIS_WAIT_REPLICAS: String(waitReplicas) };
  const stack = await startStack({
    monoliths: 2,
    balancers: 2,
    monolithEnv: { ...redis, REGISTRY_ADDRESS: '127.0.0.1:0' },
    balancerEnv: { ...redis, MONOLITHS: '', MONOLITH_REGISTRY: 'redis', REGISTRY_POLL_MS: '200' },
  });
  running.stack = stack;
  for (const m of stack.monoliths) {
    expect(m.proc.output().includes('REDIS_WAIT_REPLICAS=0 on a replicated Redis'), `${m.id} warns of REDIS_WAIT_REPLICAS=0`).toBe(waitReplicas === 0);
  }
  for (const b of stack.balancers) {
    const discovered = b.proc.output().split('\n').filter((l) => l.includes('registry discovery'));
    for (const m of stack.monoliths) expect(discovered.some((l) => l.includes(m.linkAddress)), `${b.id} found ${m.linkAddress} in the registry`).toBe(true);
  }
  return stack;
}

/** Both balancers still list both monoliths as linked. */
async function stillLinked(stack: Stack): Promise<void> {
  for (const b of stack.balancers) expect(await readyOf(b.http), `${b.id} /ready`).toMatchObject({ status: 200, body: { monoliths: stack.monoliths.length } });
}

describe('Redis Cluster failover under spectators (2 monoliths × 2 balancers, registry discovery on the cluster)', () => {
  it('a spectated guild stream\'s slot migrates to another primary: its pushes resume from the new owner, nothing lost or duplicated', async () => {
    const guilds = await guildsOnEveryShard();
    const slot = cluster.slotOf(channelOf(guildLogsStream(guilds[0]!)));
    const from = await cluster.primaryForSlot(slot);
    const to = primaries().find((p) => p !== from)!;
    const stack = await registryStack(0);
    await topologyFault(running, stack, {
      name: 'cluster slot migration',
      guilds,
      interrupted: async (streams) => streams.filter((s) => cluster.slotOf(channelOf(s)) === slot),
      replication,
      // The sunsubscribe → SSUBSCRIBE at the new owner takes milliseconds: no /ready claim.
      notReadyDuring: false,
      run: async (hit) => {
        const moved = waitFor(async () => (await cluster.primaryForSlot(slot)) === to, { timeoutMs: 30_000, intervalMs: 10, what: `slot ${slot} owned by ${to}` }).then(hit);
        await cluster.migrateSlot(slot, to);
        await moved;
      },
    });
    expect(await cluster.primaryForSlot(slot)).toBe(to);
    await stillLinked(stack);
  }, 90_000);

  // Last: the cluster keeps one replica less.
  it('the primary holding the registry and spectated guild streams is killed (-9), with REDIS_WAIT_REPLICAS=1: its replica takes over, spectators miss nothing, the balancers keep both monoliths', async () => {
    const guilds = await guildsOnEveryShard();
    const victim = await ownerOf(REGISTRY_KEY);
    const stack = await registryStack(1);
    let promoted = 0;
    await topologyFault(running, stack, {
      name: 'cluster primary kill -9',
      guilds,
      interrupted: async (streams) => {
        const owners = await Promise.all(streams.map((s) => ownerOf(channelOf(s))));
        return streams.filter((_, i) => owners[i] === victim);
      },
      replication,
      // Its subscriptions are lost until the replica is promoted: at least the node timeout (1 s).
      notReadyDuring: true,
      run: async (hit) => {
        void cluster.nodes.find((n) => n.port === victim)!.proc.exited.then(() => hit());
        promoted = await cluster.killPrimary(victim);
      },
    });
    expect(await ownerOf(REGISTRY_KEY)).toBe(promoted);
    await stillLinked(stack);
  }, 90_000);
});
