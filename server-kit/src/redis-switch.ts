import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { redisRetryDelay } from './redis-retry.js';
import type { RedisTopology } from './redis-topology.js';

type SentinelTopology = Extract<RedisTopology, { kind: 'sentinel' }>;

interface SentinelList {
  sentinels?: Array<{ host?: string; port?: number }>;
  cursor?: number;
}

/**
 * Makes the connection's next resolution ask `sentinel` first: it has just announced the switch,
 * while the one the connection would ask next may not have heard of it yet (and name the old
 * primary, still up in a forced failover: one more move later). ioredis (5.11) keeps that order in
 * its sentinel connector's iterator, which it does not expose; without it the move still happens,
 * possibly in two steps.
 */
function askFirst(client: Redis, sentinel: { host: string; port: number }): void {
  const list = (client as unknown as { connector?: { sentinelIterator?: SentinelList } }).connector?.sentinelIterator;
  const sentinels = list?.sentinels;
  if (!list || !Array.isArray(sentinels)) return;
  const i = sentinels.findIndex((s) => (s.host ?? '127.0.0.1') === sentinel.host && (s.port ?? 26379) === sentinel.port);
  if (i < 0) return;
  sentinels.unshift(...sentinels.splice(i, 1));
  list.cursor = 0;
}

/**
 * Moves a sentinel-managed connection to the new primary when a sentinel announces a failover
 * (`+switch-master`), in place of ioredis' own failover detector. That one disconnects on the
 * first announcement after each connect, whichever primary it names: the sentinels announce one
 * failover at different times (the followers on learning the new configuration, the leader
 * about a second later, once it has moved the other replicas), so a connection already
 * re-established on the new primary was dropped a second time, with its subscriptions. Here an
 * announcement drops the connection only if it is up and not on the primary named; while it is
 * down, its own reconnection asks the sentinels anyway. It then asks the announcing sentinel first.
 *
 * One subscriber connection per sentinel, closed with `client` (its 'end').
 */
export function followSwitchMaster(client: Redis, t: SentinelTopology, name: string): void {
  const watchers = t.sentinels.map((sentinel) => {
    const watcher = new Redis({
      host: sentinel.host,
      port: sentinel.port,
      connectionName: `${name}-switch`,
      retryStrategy: redisRetryDelay,
      // Re-subscribes after a reconnection to the sentinel; nothing else is ever sent.
      autoResubscribe: true,
      ...(t.sentinelPassword !== undefined ? { password: t.sentinelPassword } : {}),
      ...(t.tls ? { tls: t.tls.ca !== undefined ? { ca: t.tls.ca } : {} } : {}),
    });
    watcher.on('error', () => {});
    watcher.subscribe('+switch-master').catch(() => {});
    watcher.on('message', (_channel: string, message: string) => {
      // "<name> <old ip> <old port> <new ip> <new port>"
      const [master, , , host, port] = message.split(' ');
      if (master !== t.name || client.status !== 'ready') return;
      const socket = (client as unknown as { stream?: Socket }).stream;
      if (socket && socket.remoteAddress === host && socket.remotePort === Number(port)) return;
      askFirst(client, sentinel);
      client.disconnect(true);
    });
    return watcher;
  });
  client.once('end', () => {
    for (const w of watchers) w.disconnect();
  });
}
