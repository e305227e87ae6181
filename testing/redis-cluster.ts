import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisTopology } from '@gateway/server-kit/redis';
import { FAST_SYNC_ARGS, freeClusterPort, run, spawnRedisNode, type RedisNode } from './redis-nodes.js';
import { infoFields, redisCommand, text } from './resp.js';
import { waitFor } from './wait.js';


// A real Redis Cluster on free loopback ports (see redis-topologies.ts).


const SLOTS = 16384;

// CRC16-CCITT (XMODEM: poly 0x1021, init 0), the hash of the Redis cluster spec.
const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

/**
 * The hash slot of a key (CRC16 mod 16384, of the UTF-8 bytes). A hash tag is honoured: if the key
 * has a `{` followed later by a `}` with at least one byte between them, only the bytes between
 * the first `{` and the first `}` after it are hashed (`{user1}.a` and `{user1}.b` share a slot;
 * `foo{}{bar}` hashes the whole key).
 */
export function keySlot(key: string): number {
  let bytes: Uint8Array = Buffer.from(key, 'utf8');
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff]!) & 0xffff;
  return crc % SLOTS;
}

export type ClusterRole = 'primary' | 'replica' | 'down';

export interface ClusterNode extends RedisNode {
  /** The node id (CLUSTER MYID). */
  id: string;
  /** As of the last settled view (after start, killPrimary, migrateSlot); 'down' once killed. */
  role: ClusterRole;
  /** A replica's primary (its port); undefined for a primary. */
  replicaOf: number | undefined;
}

export interface RedisCluster {
  /** "127.0.0.1:P1,127.0.0.1:P2,..." of every node, for REDIS_CLUSTER_NODES. */
  seeds: string;
  nodes: ClusterNode[];
  /** The port of the primary serving `slot`, per the first live node that answers. */
  primaryForSlot(slot: number): Promise<number>;
  slotOf(key: string): number;
  /**
   * kill -9 a primary; resolves with the port of its replica that took over, once every surviving
   * node reports cluster_state:ok, all agree on the slot map and its other replicas follow it.
   */
  killPrimary(port: number): Promise<number>;
  /** Moves one slot and its keys to another primary (the redis-cli --cluster reshard protocol). */
  migrateSlot(slot: number, toPort: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  primaries?: number;
  /** Replicas per primary. */
  replicas?: number;
}

interface NodeLine {
  id: string;
  port: number;
  flags: string[];
  masterId: string | undefined;
  /** Owned slot ranges, inclusive; `[slot->-id]` migration markers are left out. */
  slots: Array<[number, number]>;
}

function parseClusterNodes(reply: string): NodeLine[] {
  return reply
    .split('\n')
    .filter((l) => l.trim())
    .map((line) => {
      const [id, address, flags, master, , , , , ...slots] = line.trim().split(' ');
      const port = Number(/:(\d+)@/.exec(address ?? '')?.[1]);
      return {
        id: id!,
        port,
        flags: (flags ?? '').split(',').filter((f) => f !== 'myself'),
        masterId: master === '-' ? undefined : master,
        slots: slots
          .filter((s) => !s.startsWith('['))
          .map((s) => {
            const [from, to] = s.split('-').map(Number);
            return [from!, to ?? from!] as [number, number];
          }),
      };
    });
}

const BAD_FLAGS = ['fail', 'fail?', 'handshake', 'noaddr'];

interface ClusterView {
  /** Slot ranges to owner port, in slot order; covers all 16384 slots. */
  ranges: Array<[number, number, number]>;
  /** Live ports to their role and primary. */
  roles: Map<number, { role: 'primary' | 'replica'; replicaOf: number | undefined }>;
}

/**
 * The topology as one live node sees it; throws (= "not yet" for waitFor) unless that node reports
 * cluster_state:ok, knows every live node as healthy, has every dead one flagged `fail`, its slot
 * map covers every slot, and (for a replica) its link to its primary is up.
 */
async function nodeView(port: number, live: ClusterNode[], dead: ClusterNode[]): Promise<ClusterView> {
  const info = await infoFields(port, ['CLUSTER', 'INFO']);
  if (info.cluster_state !== 'ok') throw new Error(`${port}: cluster_state:${info.cluster_state}`);
  const lines = parseClusterNodes(await text(port, ['CLUSTER', 'NODES']));
  const byId = new Map(lines.map((l) => [l.id, l]));
  const roles: ClusterView['roles'] = new Map();
  for (const node of live) {
    const line = lines.find((l) => l.port === node.port);
    if (!line || line.flags.some((f) => BAD_FLAGS.includes(f))) throw new Error(`${port} sees ${node.port} as ${line?.flags.join(',') ?? 'unknown'}`);
    const master = line.masterId ? byId.get(line.masterId)?.port : undefined;
    roles.set(node.port, line.flags.includes('master') ? { role: 'primary', replicaOf: undefined } : { role: 'replica', replicaOf: master });
  }
  for (const node of dead) {
    const line = lines.find((l) => l.port === node.port);
    if (line && !line.flags.includes('fail')) throw new Error(`${port} sees dead ${node.port} as ${line.flags.join(',')}`);
  }
  const ranges = lines.flatMap((l) => l.slots.map(([from, to]) => [from, to, l.port] as [number, number, number])).sort((a, b) => a[0] - b[0]);
  let next = 0;
  for (const [from, to] of ranges) {
    if (from !== next) throw new Error(`${port}: slot ${next} unassigned`);
    next = to + 1;
  }
  if (next !== SLOTS) throw new Error(`${port}: slot ${next} unassigned`);
  if (roles.get(port)?.role === 'replica') {
    const repl = await infoFields(port, ['INFO', 'replication']);
    if (repl.master_link_status !== 'up') throw new Error(`${port}: master_link_status:${repl.master_link_status}`);
  }
  return { ranges, roles };
}

function viewKey(view: ClusterView): string {
  return JSON.stringify([view.ranges, [...view.roles].sort((a, b) => a[0] - b[0])]);
}

function ownerIn(view: ClusterView, slot: number): number | undefined {
  return view.ranges.find(([from, to]) => slot >= from && slot <= to)?.[2];
}

// Redis defaults, spelled out, for realistic failover tests: with full coverage required, losing a
// primary turns the whole cluster CLUSTERDOWN (reads too) until a replica is promoted, the window a
// cluster client must ride out in production; and cluster_state:ok then means a failover really
// finished (with coverage not required every node would keep reporting ok throughout).
const CLUSTER_FAILURE_ARGS = ['--cluster-require-full-coverage', 'yes', '--cluster-allow-reads-when-down', 'no'];

/**
 * A Redis Cluster of `primaries` primaries (default 3) with `replicas` replicas each (default 1),
 * formed by `redis-cli --cluster create`, every node on a free loopback port; resolves once every
 * node reports cluster_state:ok, all agree on the slot map and every replica's link is up.
 * Node timeout 1 s: a killed primary is failed over in about two seconds.
 */
export async function startRedisCluster(opts: ClusterOptions = {}): Promise<RedisCluster> {
  const primaries = opts.primaries ?? 3;
  const replicas = opts.replicas ?? 1;
  const dir = await mkdtemp(join(tmpdir(), 'redis-cluster-'));
  const nodes: ClusterNode[] = [];
  const taken = new Set<number>();
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.proc.kill()));
    await rm(dir, { recursive: true, force: true });
  };

  try {
    for (let i = 0; i < primaries * (1 + replicas); i++) {
      const node = await spawnRedisNode(
        'redis-cluster',
        () => freeClusterPort(taken),
        async (port) => {
          const nodeDir = join(dir, String(port));
          await mkdir(nodeDir, { recursive: true });
          return [
            '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no',
            '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '1000',
            ...CLUSTER_FAILURE_ARGS,
            // No persistence; `dir` only holds a replica's full-sync file.
            '--save', '', '--appendonly', 'no', '--dir', nodeDir, ...FAST_SYNC_ARGS,
          ];
        },
        dir,
      );
      taken.add(node.port);
      nodes.push({ ...node, id: await text(node.port, ['CLUSTER', 'MYID']), role: 'primary', replicaOf: undefined });
    }
    await run(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
      60_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }

  const live = (): ClusterNode[] => nodes.filter((n) => n.role !== 'down');
  const dead = (): ClusterNode[] => nodes.filter((n) => n.role === 'down');
  const byPort = (port: number): ClusterNode => {
    const node = nodes.find((n) => n.port === port);
    if (!node) throw new Error(`no cluster node on port ${port}`);
    return node;
  };

  /** Waits until every live node has the same healthy view, records the roles, returns the view. */
  const settle = async (what: string, accept: (view: ClusterView) => boolean = () => true, timeoutMs = 30_000): Promise<ClusterView> => {
    const view = await waitFor(
      async () => {
        const views = await Promise.all(live().map((n) => nodeView(n.port, live(), dead())));
        const key = viewKey(views[0]!);
        const disagree = views.findIndex((v) => viewKey(v) !== key);
        if (disagree >= 0) throw new Error(`${live()[0]!.port} and ${live()[disagree]!.port} disagree on the topology`);
        return accept(views[0]!) ? views[0] : undefined;
      },
      { timeoutMs, intervalMs: 100, what },
    );
    for (const node of live()) Object.assign(node, view.roles.get(node.port));
    return view;
  };

  try {
    await settle('the new cluster to be ok on every node', (view) => [...view.roles.values()].filter((r) => r.role === 'primary').length === primaries);
  } catch (err) {
    await stop();
    throw err;
  }

  const primaryForSlot = async (slot: number): Promise<number> => {
    let lastError: unknown;
    for (const node of live()) {
      try {
        const owner = parseClusterNodes(await text(node.port, ['CLUSTER', 'NODES'])).find((l) => l.slots.some(([from, to]) => slot >= from && slot <= to));
        if (owner) return owner.port;
        lastError = new Error(`${node.port}: slot ${slot} has no owner`);
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  };

  return {
    seeds: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    nodes,
    primaryForSlot,
    slotOf: keySlot,

    async killPrimary(port) {
      const node = byPort(port);
      if (node.role !== 'primary') throw new Error(`${port} is ${node.role}, not a primary`);
      const candidates = live().filter((n) => n.replicaOf === port).map((n) => n.port);
      if (!candidates.length) throw new Error(`primary ${port} has no replica to fail over to`);
      const before = await settle('the cluster to be ok before the kill');
      const owned = before.ranges.filter(([, , owner]) => owner === port);
      await node.proc.kill();
      Object.assign(node, { role: 'down', replicaOf: undefined });
      const after = await settle(`a replica of ${port} to be promoted and every node ok`, (view) => {
        const owner = ownerIn(view, owned[0]![0]);
        if (owner === undefined || !candidates.includes(owner)) return false;
        // With two replicas or more, the others follow the promoted one (so WAIT 1 can be met).
        const followers = candidates.filter((c) => c !== owner).every((c) => view.roles.get(c)?.replicaOf === owner);
        return followers && owned.every(([from, to]) => ownerIn(view, from) === owner && ownerIn(view, to) === owner);
      });
      return ownerIn(after, owned[0]![0])!;
    },

    async migrateSlot(slot, toPort) {
      const view = await settle('the cluster to be ok before the migration');
      const fromPort = ownerIn(view, slot)!;
      const target = byPort(toPort);
      if (target.role !== 'primary') throw new Error(`${toPort} is ${target.role}, not a primary`);
      if (fromPort === toPort) return;
      const source = byPort(fromPort);
      // The order redis-cli --cluster reshard uses: importing first, so no moment has the source
      // redirecting (ASK) to a target that refuses the slot.
      await redisCommand(toPort, ['CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id]);
      await redisCommand(fromPort, ['CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id]);
      for (;;) {
        const keys = await redisCommand(fromPort, ['CLUSTER', 'GETKEYSINSLOT', slot, 100]);
        if (!Array.isArray(keys) || keys.length === 0) break;
        await redisCommand(fromPort, ['MIGRATE', '127.0.0.1', toPort, '', 0, 5000, 'KEYS', ...(keys as string[])], 10_000);
      }
      // Target first (it stops answering ASK-only), then the source, then every other primary.
      const others = live().filter((n) => n.role === 'primary' && n !== target && n !== source);
      for (const node of [target, source, ...others]) await redisCommand(node.port, ['CLUSTER', 'SETSLOT', slot, 'NODE', target.id]);
      await settle(`slot ${slot} to be owned by ${toPort} on every node`, (v) => ownerIn(v, slot) === toPort);
    },

    stop,
  };
}


/** A cluster's seeds as the topology REDIS_CLUSTER_NODES makes (no credentials, no WAIT by default). */
export function clusterTopology(seeds: string, waitReplicas = 0): RedisTopology {
  const nodes = seeds.split(',').map((s) => ({ host: s.slice(0, s.lastIndexOf(':')), port: Number(s.slice(s.lastIndexOf(':') + 1)) }));
  return { kind: 'cluster', nodes, username: undefined, password: undefined, tls: undefined, waitReplicas, waitTimeoutMs: 1000 };
}

