/**
 * A local Redis Cluster for the bench's topology comparison (bench/topology/): `primaries`
 * redis-server processes in cluster mode, without replicas or persistence, joined by
 * `redis-cli --cluster create`. The tested starter (replicas, failover, slot migration) is
 * testing/redis-cluster.ts; bench/ is plain .mjs on Node 20 and cannot import TypeScript, so
 * this is only what the bench needs: start, wait for cluster_state:ok everywhere, stop by pid.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { delay, freePort, startRedisServer } from './processes.mjs';

/**
 * Resolves with `{ seeds: "127.0.0.1:P1,...", nodes: [{ url, port, pid }], stop() }` once every
 * node reports cluster_state:ok (all 16384 slots served).
 */
export async function startRedisCluster({ primaries = 3, timeoutMs = 30_000 } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'bench-redis-cluster-'));
  const nodes = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < primaries; i++) {
      // The bus port is picked free as well (cluster-port, Redis 7) instead of port + 10000.
      const busPort = await freePort();
      const args = ['--cluster-enabled', 'yes', '--cluster-port', String(busPort), '--cluster-config-file', join(dir, `nodes-${i}.conf`), '--dir', dir];
      nodes.push(await startRedisServer({ maxclients: 20_000, args }));
    }
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], timeoutMs);
    await Promise.all(nodes.map((n) => clusterOk(n.port, timeoutMs)));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    seeds: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    nodes: nodes.map(({ url, port, pid }) => ({ url, port, pid })),
    stop,
  };
}

async function clusterOk(port, timeoutMs) {
  const redis = new Redis({ host: '127.0.0.1', port, connectionName: 'bench-cluster-check', lazyConnect: true });
  const deadline = Date.now() + timeoutMs;
  let last = '';
  try {
    await redis.connect();
    while (Date.now() < deadline) {
      last = await redis.call('CLUSTER', 'INFO');
      if (/cluster_state:ok/.test(last)) return;
      await delay(100);
    }
  } finally {
    redis.disconnect();
  }
  throw new Error(`cluster node ${port} not ok within ${timeoutMs} ms: ${last.split('\n')[0]}`);
}

function run(command, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(' ')}: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}
