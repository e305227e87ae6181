import type { Cluster, Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import type { Log } from '@gateway/server-kit';
import { SubscriberBase, type ChannelSubscriber } from './channel-subscriber.js';

/** Opens a subscriber connection to one cluster node (`host:port`). */
export type NodeOpener = (nodeKey: string) => Redis;

interface NodeConn {
  redis: Redis;
  /** Channels live on this connection. */
  channels: Set<string>;
  /** SSUBSCRIBEs in flight: a MOVED refusal of one settles none of them in ioredis, so all retry. */
  pending: Set<(err: Error) => void>;
}

/**
 * Sharded pub/sub on Redis Cluster: SSUBSCRIBE each channel on a connection to the primary that
 * owns its slot, so a publication (SPUBLISH inside the publish script, on that same shard) never
 * crosses the cluster bus to other shards.
 *
 * `owner` records, per wanted channel, the node it is live on (absent: lost or not yet placed).
 * Everything that can make it wrong leads to `reconcile`, which compares it with the cluster's
 * slot map (`cluster.slots`, refreshed by ioredis every second and on MOVED) and moves channels:
 * - a node connection closes (the primary died, a network blip): its channels are lost;
 * - the slot map changes (a failover promoted a replica, a slot was migrated): ioredis emits
 *   'refresh'; channels whose slot has a new owner are unsubscribed at the old one and lost;
 * - a server-sent `sunsubscribe` (Redis unsubscribes a migrated slot's channels) reaches ioredis
 *   as an unexpected reply, surfaced as an 'error' on that node connection: reconcile.
 * A lost channel placed again is reported once through `onResubscribed` (the hub reads the gap
 * from history). Reconciles run one at a time; a trigger during one runs another after it.
 */
export class ShardedSubscriber extends SubscriberBase implements ChannelSubscriber {
  private readonly owner = new Map<string, string>();
  private readonly nodes = new Map<string, NodeConn>();
  /** Channels lost since they were last reported live (to report once when placed again). */
  private readonly lost = new Set<string>();
  private running = false;
  private again = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly open: NodeOpener,
    private readonly log: Log,
  ) {
    super();
    cluster.on('refresh', () => this.reconcile());
    cluster.on('ready', () => this.reconcile());
  }

  /**
   * No live subscription is lost. A stream being subscribed for the first time does not count:
   * readiness must not flap while spectators of new guilds arrive (its subscriber waits on
   * `subscribe()` itself); one lost by a failover or slot move does, until it is live again.
   */
  get synced(): boolean {
    return !this.closed && this.lost.size === 0;
  }

  async subscribe(channel: string): Promise<void> {
    if (this.wanted.has(channel) && this.owner.has(channel)) return;
    this.wanted.add(channel);
    this.reconcile();
    await this.until(() => this.owner.has(channel) || !this.wanted.has(channel));
  }

  async unsubscribe(channel: string): Promise<void> {
    if (!this.wanted.delete(channel)) return;
    this.lost.delete(channel);
    const key = this.owner.get(channel);
    this.owner.delete(channel);
    const conn = key === undefined ? undefined : this.nodes.get(key);
    if (!conn) return;
    conn.channels.delete(channel);
    if (conn.redis.status === 'ready') await conn.redis.sunsubscribe(channel).catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    this.wanted.clear();
    this.owner.clear();
    this.changed([]);
    await Promise.allSettled([...this.nodes.values()].map((n) => n.redis.quit()));
    this.nodes.clear();
  }

  /** Live node connections (metrics, tests). */
  nodeKeys(): string[] {
    return [...this.nodes.keys()];
  }

  /** The primary that owns the channel's slot now, per the cluster's slot map. */
  private ownerOf(channel: string): string | undefined {
    return this.cluster.slots[calculateSlot(channel)]?.[0];
  }

  private reconcile(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.place()
      .catch((err: Error) => this.log.warn('sharded subscriber reconcile failed', { err: err.message }))
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.reconcile();
        } else if (!this.synced && !this.closed) {
          // Something could not be placed (an owner not reachable yet): try again shortly.
          clearTimeout(this.retry);
          this.retry = setTimeout(() => {
            void this.cluster.refreshSlotsCache?.();
            this.reconcile();
          }, 200);
          this.retry.unref();
        }
      });
  }

  private async place(): Promise<void> {
    const pending: Array<Promise<string | undefined>> = [];
    const moved: string[] = [];
    for (const channel of this.wanted) {
      const target = this.ownerOf(channel);
      const current = this.owner.get(channel);
      if (current !== undefined && current === target) continue;
      if (current !== undefined) {
        // The slot moved: stop listening at the old owner; what it missed is filled from history.
        this.owner.delete(channel);
        this.lost.add(channel);
        moved.push(channel);
        const old = this.nodes.get(current);
        if (old) {
          old.channels.delete(channel);
          if (old.redis.status === 'ready') old.redis.sunsubscribe(channel).catch(() => {});
        }
      }
      if (target === undefined) continue;
      const conn = this.connection(target);
      if (conn.redis.status !== 'ready') continue; // its 'ready' reconciles again
      pending.push(
        this.ssubscribe(conn, channel).then(
          () => {
            // Lost again meanwhile (the connection dropped, or the channel was dropped).
            if (!this.wanted.has(channel) || this.nodes.get(target) !== conn || conn.redis.status !== 'ready') return undefined;
            this.owner.set(channel, target);
            conn.channels.add(channel);
            return channel;
          },
          () => undefined, // MOVED, or the connection dropped: the next refresh places it
        ),
      );
    }
    if (moved.length) this.log.warn('sharded subscriptions lost: their slots have a new owner', { channels: moved.length, first: moved[0] });
    const placed = (await Promise.all(pending)).filter((c): c is string => c !== undefined);
    const resubscribed = placed.filter((c) => this.lost.delete(c));
    this.dropIdle();
    this.changed(resubscribed);
  }

  /**
   * SSUBSCRIBE that settles: ioredis (5.11) answers a MOVED refusal (a slot map a second stale,
   * after a migration) with a 'moved' event and never settles the command, which would hold
   * `place` for the command timeout. A 'moved' on the connection fails every SSUBSCRIBE in flight
   * on it; the refreshed slot map then places them where they belong.
   */
  private ssubscribe(conn: NodeConn, channel: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      conn.pending.add(reject);
      conn.redis
        .ssubscribe(channel)
        .then(resolve, reject)
        .finally(() => conn.pending.delete(reject));
    });
  }

  private connection(key: string): NodeConn {
    let conn = this.nodes.get(key);
    if (conn) return conn;
    const redis = this.open(key);
    const node: NodeConn = { redis, channels: new Set(), pending: new Set() };
    redis.on('moved', () => {
      for (const reject of node.pending) reject(new Error('MOVED'));
      node.pending.clear();
      void this.cluster.refreshSlotsCache?.();
      this.reconcile();
    });
    conn = node;
    this.nodes.set(key, node);
    redis.on('smessage', (channel: string, payload: string) => this.deliver(channel, payload));
    redis.on('ready', () => this.reconcile());
    const drop = (event: string) => {
      if (this.closed || !node.channels.size) return;
      this.log.warn('sharded subscriptions lost: node connection dropped', { node: key, event, channels: node.channels.size });
      for (const channel of node.channels) {
        if (this.owner.get(channel) === key) this.owner.delete(channel);
        if (this.wanted.has(channel)) this.lost.add(channel);
      }
      node.channels.clear();
      this.changed([]);
      // The node may be gone for good (a failover): ask the cluster who owns its slots now.
      void this.cluster.refreshSlotsCache?.();
      this.reconcile();
    };
    for (const ev of ['close', 'end', 'reconnecting']) redis.on(ev, () => drop(ev));
    redis.on('error', (err: Error) => {
      // A server-sent sunsubscribe (slot migrated away) arrives as an unexpected reply.
      if (/sunsubscribe/i.test(err.message)) {
        const channel = /sunsubscribe,([^,]*),/i.exec(err.message)?.[1];
        if (channel !== undefined && node.channels.delete(channel)) {
          this.log.warn('sharded subscription lost: the node unsubscribed it (slot migrated)', { channel, node: key });
          if (this.owner.get(channel) === key) this.owner.delete(channel);
          if (this.wanted.has(channel)) this.lost.add(channel);
        }
        void this.cluster.refreshSlotsCache?.();
        this.reconcile();
      }
    });
    return node;
  }

  /** Closes connections to nodes that hold no channel and own no wanted channel's slot. */
  private dropIdle(): void {
    const needed = new Set<string>();
    for (const channel of this.wanted) {
      const t = this.ownerOf(channel);
      if (t !== undefined) needed.add(t);
    }
    for (const [key, conn] of this.nodes) {
      if (conn.channels.size || needed.has(key)) continue;
      this.nodes.delete(key);
      conn.redis.disconnect();
    }
  }
}
