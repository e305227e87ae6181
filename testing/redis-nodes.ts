import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { spawnProc, type Proc } from './processes.js';
import { freePort, ping } from './redis.js';
import { testEnv } from './config.js';

// Ports and redis-server processes for the cluster and sentinel topologies.


export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port P whose cluster bus port P+10000 is free too (so P < 55536; kept under 55000). */
export async function freeClusterPort(taken: Set<number>): Promise<number> {
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
export async function spawnRedisNode(
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
export const FAST_SYNC_ARGS = ['--repl-diskless-sync-delay', '0'];

export function run(command: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { env: { PATH: testEnv.PATH }, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(' ')}: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}
