import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnProc, type Proc } from './processes.js';
import { freePort, ping } from './redis.js';
import { testEnv } from './config.js';
import type { RedisTopology } from '@gateway/server-kit/redis';
import { waitFor } from './wait.js';

// Real Redis Cluster and Sentinel topologies on free loopback ports, for tests of the gateway's
// cluster and sentinel support. Each topology lives in its own temp dir (node configs, sentinel
// configs, replicas' sync files), removed by `stop()`. Never REDIS_URL: these are always spawned.
// The helpers talk to Redis over a tiny RESP2 client (`redisCommand`) because testing/ is not a
// workspace package and has no ioredis of its own.

// ---------------------------------------------------------------------------------------------
// A one-command RESP2 client.

/** An error reply (`-MOVED 1234 127.0.0.1:7001`, `-ERR ...`): `message` is the reply without the dash. */
export class RedisReplyError extends Error {
  override name = 'RedisReplyError';
}

export type RespValue = string | number | null | RedisReplyError | RespValue[];

type Parsed = { value: RespValue; end: number } | undefined;

function parseReply(buf: Buffer, start: number): Parsed {
  const lineEnd = buf.indexOf('\r\n', start);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buf[start]!);
  const line = buf.toString('utf8', start + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new RedisReplyError(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, end: next };
      if (buf.length < next + len + 2) return undefined;
      return { value: buf.toString('utf8', next, next + len), end: next + len + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: RespValue[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, at);
        if (!item) return undefined;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

/**
 * Sends `commands` to 127.0.0.1:`port` pipelined on one fresh connection and resolves with their
 * replies in order (bulk strings as UTF-8; an error reply is a RedisReplyError in its place). One
 * connection matters for what is per connection: `WAIT` counts the replicas that acknowledged
 * *this connection's* last write. No redirections are followed: a MOVED is what the test asked about.
 */
export function redisPipeline(port: number, commands: Array<Array<string | number>>, timeoutMs = 5000): Promise<RespValue[]> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const replies: RespValue[] = [];
    const what = commands.map((c) => c[0]).join(',');
    let buf = Buffer.alloc(0);
    let settled = false;
    const finish = (err: Error | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(replies);
    };
    const timer = setTimeout(() => finish(new Error(`redis ${port}: no reply to ${what} within ${timeoutMs} ms`)), timeoutMs);
    socket.on('connect', () => {
      for (const args of commands) {
        const parts = args.map(String);
        socket.write(`*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`);
      }
    });
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        for (;;) {
          const parsed = parseReply(buf, 0);
          if (!parsed) return;
          replies.push(parsed.value);
          buf = buf.subarray(parsed.end);
          if (replies.length === commands.length) return finish(undefined);
        }
      } catch (err) {
        finish(err as Error);
      }
    });
    socket.on('error', (err) => finish(new Error(`redis ${port}: ${err.message}`)));
    socket.on('close', () => finish(new Error(`redis ${port}: connection closed before the replies to ${what}`)));
  });
}

/** One command on a fresh connection (see redisPipeline); an error reply rejects with a RedisReplyError. */
export async function redisCommand(port: number, args: Array<string | number>, timeoutMs = 5000): Promise<RespValue> {
  const [reply] = await redisPipeline(port, [args], timeoutMs);
  if (reply instanceof RedisReplyError) throw reply;
  return reply ?? null;
}

async function text(port: number, args: Array<string | number>): Promise<string> {
  const reply = await redisCommand(port, args);
  if (typeof reply !== 'string') throw new Error(`redis ${port}: ${args.join(' ')} replied ${JSON.stringify(reply)}`);
  return reply;
}

/** `field:value` lines of INFO / CLUSTER INFO. */
async function infoFields(port: number, args: string[]): Promise<Record<string, string>> {
  const fields: Record<string, string> = {};
  for (const line of (await text(port, args)).split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields[line.slice(0, at)] = line.slice(at + 1);
  }
  return fields;
}

/** A flat [k1, v1, k2, v2, ...] reply (SENTINEL MASTER/REPLICAS/SENTINELS entries) as a record. */
function pairs(reply: RespValue): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Ports and processes.

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port P whose cluster bus port P+10000 is free too (so P < 55536; kept under 55000). */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = await freePort();
    if (port >= 55_000 || taken.has(port) || taken.has(port + 10_000) || taken.has(port - 10_000)) continue;
    if (await portFree(port + 10_000)) return port;
  }
  throw new Error('no free port pair P, P+10000 found');
}

export interface RedisNode {
  port: number;
  proc: Proc;
}

/**
 * Spawns one redis-server with `argsFor(port)` and waits until it answers PING. Like startRedis, whose argument list is fixed (and which REDIS_URL would replace), but with
 * the topology's own arguments; a port taken between probing and binding is retried on another
 * one (`argsFor` writes whatever depends on the port, such as a sentinel's config file).
 */
async function spawnRedisNode(
  kind: string,
  pickPort: () => Promise<number>,
  argsFor: (port: number) => Promise<string[]>,
  cwd: string,
): Promise<RedisNode> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await pickPort();
    const proc = spawnProc(`${kind}:${port}`, 'redis-server', await argsFor(port), {}, cwd);
    try {
      await proc.waitForLine((l) => (/Ready to accept connections|Sentinel ID is/.test(l.text) ? true : undefined), 10_000, 'ready line');
      if (!(await ping('127.0.0.1', port))) throw new Error(`${kind} on ${port} does not answer PING\n${proc.tail()}`);
      return { port, proc };
    } catch (err) {
      lastError = err;
      await proc.kill();
    }
  }
  throw lastError;
}

// A full sync starts at once instead of after the default 5 s wait for more replicas to join it
// (diskless, the primary streams one RDB to every replica waiting): a replica attaches, or a demoted
// primary re-attaches, in milliseconds.
const FAST_SYNC_ARGS = ['--repl-diskless-sync-delay', '0'];

function run(command: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { env: { PATH: testEnv.PATH }, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(' ')}: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Cluster.

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
   * node reports cluster_state:ok and all agree on the slot map.
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
        return owner !== undefined && candidates.includes(owner) && owned.every(([from, to]) => ownerIn(view, from) === owner && ownerIn(view, to) === owner);
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

// ---------------------------------------------------------------------------------------------
// Sentinel.

export interface RedisSentinel {
  /** "127.0.0.1:S1,127.0.0.1:S2,127.0.0.1:S3", for REDIS_SENTINELS. */
  sentinels: string;
  /** The monitored primary's name, for REDIS_SENTINEL_NAME. */
  name: string;
  /** The two data nodes (the first started as the primary) and the three sentinels. */
  servers: RedisNode[];
  sentinelNodes: RedisNode[];
  /** The current primary's port per a sentinel (SENTINEL GET-MASTER-ADDR-BY-NAME). */
  primaryPort(): Promise<number>;
  /**
   * SENTINEL FAILOVER; resolves with the new primary's port once every sentinel reports it and it
   * answers ROLE master (about 1 s), then (unless `waitForOldPrimary: false`) once the old primary
   * replicates from it, so another failover can follow: the sentinels demote a live old primary
   * only after it has kept reporting itself master for 8 s, so this takes about 11 s. Until then
   * the old primary still takes writes, which its full resync then discards.
   */
  failover(opts?: { waitForOldPrimary?: boolean }): Promise<number>;
  /** kill -9 the current primary; resolves with the promoted replica's port once every sentinel reports it. */
  killPrimary(): Promise<number>;
  stop(): Promise<void>;
}

const SENTINEL_NAME = 'gateway-primary';

/**
 * One primary, one replica and three sentinels (quorum 2, down after 1 s, failover timeout 5 s),
 * on free loopback ports; resolves once the replica is in sync and every sentinel knows the other
 * two and the replica.
 */
export async function startRedisSentinel(): Promise<RedisSentinel> {
  const dir = await mkdtemp(join(tmpdir(), 'redis-sentinel-'));
  const servers: RedisNode[] = [];
  const sentinelNodes: RedisNode[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all([...servers, ...sentinelNodes].map((n) => n.proc.kill()));
    await rm(dir, { recursive: true, force: true });
  };
  const name = SENTINEL_NAME;

  const dataNode = (replicaOf: number | undefined): Promise<RedisNode> =>
    spawnRedisNode(
      replicaOf ? 'redis-replica' : 'redis-primary',
      freePort,
      async (port) => {
        const nodeDir = join(dir, String(port));
        await mkdir(nodeDir, { recursive: true });
        return [
          '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no',
          '--save', '', '--appendonly', 'no', '--dir', nodeDir, ...FAST_SYNC_ARGS,
          ...(replicaOf ? ['--replicaof', '127.0.0.1', String(replicaOf)] : []),
        ];
      },
      dir,
    );

  const primaryPort = async (): Promise<number> => {
    let lastError: unknown;
    for (const s of sentinelNodes) {
      try {
        const reply = await redisCommand(s.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name]);
        if (Array.isArray(reply) && reply.length === 2) return Number(reply[1]);
        lastError = new Error(`sentinel ${s.port}: GET-MASTER-ADDR-BY-NAME replied ${JSON.stringify(reply)}`);
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError;
  };

  /** Every sentinel names `port` as the primary, and it answers ROLE master. */
  const promoted = async (port: number): Promise<boolean> => {
    for (const s of sentinelNodes) {
      const reply = await redisCommand(s.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name]);
      if (!Array.isArray(reply) || Number(reply[1]) !== port) return false;
    }
    const role = await redisCommand(port, ['ROLE']);
    return Array.isArray(role) && role[0] === 'master';
  };

  /** `replica` replicates from `primary` with its link up, and every sentinel lists it as a healthy replica. */
  const replicating = async (replica: number, primary: number): Promise<boolean> => {
    const repl = await infoFields(replica, ['INFO', 'replication']);
    if (repl.role !== 'slave' || repl.master_port !== String(primary) || repl.master_link_status !== 'up') return false;
    for (const s of sentinelNodes) {
      const listed = await redisCommand(s.port, ['SENTINEL', 'REPLICAS', name]);
      const entry = (Array.isArray(listed) ? listed : []).map(pairs).find((r) => r.port === String(replica));
      if (entry?.flags !== 'slave') return false;
    }
    return true;
  };

  const otherThan = (port: number): RedisNode => {
    const other = servers.find((n) => n.port !== port && !n.proc.exit);
    if (!other) throw new Error(`no live data node other than ${port}`);
    return other;
  };

  try {
    const primary = await dataNode(undefined);
    servers.push(primary);
    const replica = await dataNode(primary.port);
    servers.push(replica);
    // In sync before the sentinels start: their first INFO of the primary already lists it.
    await waitFor(async () => (await infoFields(replica.port, ['INFO', 'replication'])).master_link_status === 'up', {
      timeoutMs: 15_000,
      what: 'the replica to be in sync',
    });
    for (let i = 0; i < 3; i++) {
      sentinelNodes.push(
        await spawnRedisNode(
          'redis-sentinel',
          freePort,
          async (port) => {
            // Its own file: a sentinel rewrites it with what it learns (replicas, other sentinels, epochs).
            const conf = join(dir, `sentinel-${port}.conf`);
            await writeFile(
              conf,
              [
                `port ${port}`,
                'bind 127.0.0.1',
                'protected-mode no',
                `dir ${dir}`,
                'sentinel resolve-hostnames no',
                'sentinel announce-hostnames no',
                `sentinel monitor ${name} 127.0.0.1 ${primary.port} 2`,
                `sentinel down-after-milliseconds ${name} 1000`,
                `sentinel failover-timeout ${name} 5000`,
                `sentinel parallel-syncs ${name} 1`,
                '',
              ].join('\n'),
            );
            return [conf, '--sentinel'];
          },
          dir,
        ),
      );
    }
    await waitFor(
      async () => {
        for (const s of sentinelNodes) {
          const master = pairs(await redisCommand(s.port, ['SENTINEL', 'MASTER', name]));
          if (master.flags !== 'master' || master.port !== String(primary.port)) return false;
          const others = await redisCommand(s.port, ['SENTINEL', 'SENTINELS', name]);
          const known = (Array.isArray(others) ? others : []).map(pairs).filter((o) => !o.flags?.includes('down') && !o.flags?.includes('disconnected'));
          if (known.length !== 2) return false;
        }
        return replicating(replica.port, primary.port);
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'every sentinel to know the other two and the replica' },
    );
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    sentinels: sentinelNodes.map((s) => `127.0.0.1:${s.port}`).join(','),
    name,
    servers,
    sentinelNodes,
    primaryPort,

    async failover(opts = {}) {
      const old = await primaryPort();
      const next = otherThan(old).port;
      await redisCommand(sentinelNodes[0]!.port, ['SENTINEL', 'FAILOVER', name]);
      await waitFor(() => promoted(next), { timeoutMs: 30_000, intervalMs: 100, what: `sentinel failover from ${old} to ${next}` });
      if (opts.waitForOldPrimary !== false) {
        await waitFor(() => replicating(old, next), { timeoutMs: 30_000, intervalMs: 100, what: `old primary ${old} to replicate from ${next}` });
      }
      return next;
    },

    async killPrimary() {
      const old = await primaryPort();
      const next = otherThan(old).port;
      await servers.find((n) => n.port === old)!.proc.kill();
      // Down after 1 s, then a leader election; a split vote retries after 2 x failover-timeout.
      await waitFor(() => promoted(next), { timeoutMs: 45_000, intervalMs: 100, what: `sentinels to promote ${next} after ${old} was killed` });
      return next;
    },

    stop,
  };
}

/** A cluster's seeds as the topology REDIS_CLUSTER_NODES makes (no credentials, no WAIT by default). */
export function clusterTopology(seeds: string, waitReplicas = 0): RedisTopology {
  const nodes = seeds.split(',').map((s) => ({ host: s.slice(0, s.lastIndexOf(':')), port: Number(s.slice(s.lastIndexOf(':') + 1)) }));
  return { kind: 'cluster', nodes, username: undefined, password: undefined, tls: undefined, waitReplicas, waitTimeoutMs: 1000 };
}

/** A sentinel set as the topology REDIS_SENTINELS + REDIS_SENTINEL_NAME make. */
export function sentinelTopology(sentinels: string, name: string, waitReplicas = 0): RedisTopology {
  const list = sentinels.split(',').map((s) => ({ host: s.slice(0, s.lastIndexOf(':')), port: Number(s.slice(s.lastIndexOf(':') + 1)) }));
  return { kind: 'sentinel', sentinels: list, name, sentinelPassword: undefined, username: undefined, password: undefined, tls: undefined, waitReplicas, waitTimeoutMs: 1000 };
}
