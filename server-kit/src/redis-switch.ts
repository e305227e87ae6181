import { lookup } from 'node:dns/promises';
import { isIP, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { redisRetryDelay } from './redis-retry.js';
import type { RedisTopology } from './redis-topology.js';

type SentinelTopology = Extract<RedisTopology, { kind: 'sentinel' }>;

/** Whether `socket` is connected to `host:port` (a name is resolved first). */
export async function connectedTo(socket: Socket | undefined, host: string, port: number): Promise<boolean> {
  if (!socket || socket.remotePort !== port) return false;
  if (isIP(host)) return socket.remoteAddress === host;
  const addresses = await lookup(host, { all: true }).catch(() => []);
  return addresses.some((a) => a.address === socket.remoteAddress);
}

/**
 * Moves a sentinel-managed connection to the new primary when a sentinel announces a failover
 * (`+switch-master`), in place of ioredis' own failover detector. That one disconnects on the
 * first announcement after each connect, whichever primary it names: the sentinels announce one
 * failover at different times (the followers on learning the new configuration, the leader
 * about a second later, once it has moved the other replicas), so a connection already
 * re-established on the new primary was dropped a second time, with its subscriptions. Here an
 * announcement drops the connection only if it is not on the primary named (names are resolved
 * before comparing). One that comes while the connection is down is checked once it is up again:
 * its reconnection may have asked a sentinel not yet switched and reached the old primary (still
 * up in a forced failover). Such a sentinel announces the switch in turn, which moves it again.
 *
 * One subscriber connection per sentinel. It subscribes again on every reconnection to its
 * sentinel (a sentinel down for minutes, or started after the service, is listened to once up).
 * Returns what stops them; they also stop with `client` (its 'end').
 */
export function followSwitchMaster(client: Redis, t: SentinelTopology, name: string): () => void {
  /** The last primary announced, not yet checked against the connection (it was down). */
  let pending: { host: string; port: number } | undefined;
  /** The socket ioredis is connected through (its `stream`, not part of its typings). */
  const socketOf = () => (client as unknown as { stream?: Socket }).stream;
  const check = async (host: string, port: number): Promise<void> => {
    const socket = socketOf();
    if (await connectedTo(socket, host, port)) return;
    // Still the same connection, still up: move it (its reconnection asks the sentinels).
    if (client.status === 'ready' && socketOf() === socket) client.disconnect(true);
  };
  client.on('ready', () => {
    const announced = pending;
    pending = undefined;
    if (announced) void check(announced.host, announced.port);
  });

  const watchers = t.sentinels.map((sentinel) => {
    const watcher = new Redis({
      host: sentinel.host,
      port: sentinel.port,
      connectionName: `${name}-switch`,
      retryStrategy: redisRetryDelay,
      // Subscribed on every 'ready' below: ioredis' own re-subscription forgets a SUBSCRIBE that
      // failed while the sentinel was away, and a queued command would give up after retries.
      autoResubscribe: false,
      maxRetriesPerRequest: null,
      ...(t.sentinelPassword !== undefined ? { password: t.sentinelPassword } : {}),
      ...(t.tls ? { tls: t.tls.ca !== undefined ? { ca: t.tls.ca } : {} } : {}),
    });
    watcher.on('error', () => {});
    watcher.on('ready', () => void watcher.subscribe('+switch-master').catch(() => watcher.disconnect(true)));
    watcher.on('message', (_channel: string, message: string) => {
      // "<name> <old ip> <old port> <new ip> <new port>"
      const [master, , , host, port] = message.split(' ');
      if (master !== t.name || host === undefined) return;
      if (client.status === 'ready') void check(host, Number(port));
      else pending = { host, port: Number(port) };
    });
    return watcher;
  });
  const stop = () => {
    for (const w of watchers) w.disconnect();
  };
  client.once('end', stop);
  return stop;
}
