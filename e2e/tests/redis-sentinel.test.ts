import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedisSentinel, type RedisSentinel } from '../../testing/redis-topologies.js';
import { startStack, useHarness, waitFor, type Stack } from '../harness/index.js';
import { endScenario, uniqGuild } from '../harness/delivery-scenario.js';
import { topologyFault, type Running, type TopologyFault } from '../harness/topology-scenario.js';

useHarness();

// 2 monoliths × 2 balancers (static MONOLITHS) on a real Sentinel set (primary, 2 replicas, 3
// sentinels); spectators of six guilds under a steady stream of numbered publications. A forced
// failover (monoliths on REDIS_WAIT_REPLICAS=2: without it the old primary's writes until its
// demotion are discarded, and the second replica follows the old primary until the sentinels
// move it, see monolith/src/topologies.test.ts), then a primary's kill -9 (REDIS_WAIT_REPLICAS=1:
// replication is asynchronous, and what the killed primary acknowledged but had not replicated
// would be gone): no spectator is closed or moved, every acknowledged publication reaches every
// spectator once.

let set: RedisSentinel;
const running: Running = { clients: [] };
beforeAll(async () => {
  set = await startRedisSentinel({ replicas: 2 });
}, 60_000);
afterEach(async () => {
  await endScenario(running);
  Object.assign(running, { stack: undefined, publisher: undefined, clients: [] });
});
afterAll(async () => {
  await set?.stop();
});

async function sentinelStack(waitReplicas: number): Promise<Stack> {
  const stack = await startStack({
    monoliths: 2,
    balancers: 2,
    monolithEnv: { REDIS_SENTINELS: set.sentinels, REDIS_SENTINEL_NAME: set.name, REDIS_WAIT_REPLICAS: String(waitReplicas) },
  });
  running.stack = stack;
  return stack;
}

/** One data set: every stream is interrupted; the pool entities must be on the replica. */
const oneShard = (): Pick<TopologyFault, 'guilds' | 'interrupted' | 'replication'> => ({
  guilds: Array.from({ length: 6 }, uniqGuild),
  interrupted: async (streams) => [...streams],
  replication: async () => {
    const primary = await set.primaryPort();
    return set.servers.filter((n) => n.port !== primary && !n.proc.exit).map((n) => [primary, n.port] as [number, number]);
  },
});

describe('Redis Sentinel failover under spectators (2 monoliths × 2 balancers)', () => {
  it('SENTINEL FAILOVER with REDIS_WAIT_REPLICAS=2: publications pause until the old primary is demoted, then resume on the new one, nothing lost or duplicated', async () => {
    const before = await set.primaryPort();
    const stack = await sentinelStack(2);
    await topologyFault(running, stack, {
      name: 'sentinel failover (REDIS_WAIT_REPLICAS=2)',
      ...oneShard(),
      // The broker follows +switch-master (followSwitchMaster) within a few hundred ms, and
      // publications then wait for a replica until the old primary is demoted: the 503 window of
      // /ready is a blink, so no claim about it.
      notReadyDuring: false,
      run: async (hit) => {
        const promoted = waitFor(async () => (await set.primaryPort()) !== before, { timeoutMs: 30_000, intervalMs: 10, what: 'a sentinel naming the new primary' }).then(hit);
        await set.failover();
        await promoted;
      },
    });
    expect(await set.primaryPort()).not.toBe(before);
  }, 90_000);

  // Last: the set keeps one replica.
  it('the primary is killed (-9), with REDIS_WAIT_REPLICAS=1: a replica is promoted, spectators miss nothing, both monoliths ready again', async () => {
    const before = await set.primaryPort();
    const stack = await sentinelStack(1);
    await topologyFault(running, stack, {
      name: 'sentinel primary kill -9',
      ...oneShard(),
      // Every subscription is lost until the sentinels promote the replica (down after 1 s).
      notReadyDuring: true,
      run: async (hit) => {
        void set.servers.find((n) => n.port === before)!.proc.exited.then(() => hit());
        await set.killPrimary();
      },
    });
    expect(await set.primaryPort()).not.toBe(before);
  }, 90_000);
});
