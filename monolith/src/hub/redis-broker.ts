import type { Cluster, Redis } from 'ioredis';
import type { Log } from '@gateway/server-kit';
import { closeRedis, openClusterNode, openRedis, whenReady, type RedisClient, type RedisTopology } from '@gateway/server-kit/redis';
import { PlainSubscriber, type ChannelSubscriber } from './channel-subscriber.js';
import { ShardedSubscriber } from './sharded-subscriber.js';
import {
  checkHistoryPolicy,
  checkHistoryRead,
  IDEMPOTENCY_TTL_MS,
  STREAM_META_MIN_TTL_MS,
  type Broker,
  type HistoryResult,
  type Publication,
  type PublicationHandler,
  type PublishOptions,
  type PublishResult,
} from './broker.js';

/**
 * Redis layout of a stream `<s>`, for the README and for services that publish directly. The
 * `{<s>}` hash tag puts every key of a stream and its channel in one Redis Cluster slot, so
 * each script below is single-slot and a sharded publish goes to the shard that stores it.
 * - `gw:{<s>}:m` hash, the metadata: `e` epoch, `o` offset of the latest publication, `l` the
 *   latest publication's history ttlMs (what reads filter by). Expires max(ttlMs, 24 h) after
 *   the latest publication. Losing it (expiry, FLUSHALL, a restart without persistence) is
 *   what changes the epoch: the next publish or read makes a new one and drops the history.
 * - `gw:{<s>}:h` stream, the history: entry id `<offset>-0`, fields `t` (ms since the epoch,
 *   Redis clock) and `d` (the data), at most `size` entries (XADD MAXLEN), expiring ttlMs after
 *   the latest publication; entries older than ttlMs are skipped by reads.
 * - `gw:{<s>}:i:<idempotency key>` string `<offset> <epoch>`, for IDEMPOTENCY_TTL_MS.
 * - channel `gw:{<s>}`: every publication as `<offset> <epoch> <time>\n<data>`.
 * Publishing keeps positions only through PUBLISH_SCRIPT (EVAL it with the keys and arguments
 * `publish` passes below); a raw PUBLISH to the channel is not stored and has no position.
 */
export function streamKeys(stream: string) {
  const tag = `gw:{${stream}}`;
  return { meta: `${tag}:m`, history: `${tag}:h`, channel: tag, idempotency: (key: string) => `${tag}:i:${key}` };
}

const CHANNEL_PREFIX = 'gw:{';

/** The stream a channel carries (`gw:{<s>}` → `<s>`). */
export function channelStream(channel: string): string {
  return channel.slice(CHANNEL_PREFIX.length, -1);
}

/**
 * Parses a channel payload `<offset> <epoch> <time>\n<data>`; undefined for anything else (a raw
 * PUBLISH by a service that bypassed the script has no position and is dropped).
 */
export function decodePublication(payload: string): Publication | undefined {
  const a = payload.indexOf(' ');
  const b = payload.indexOf(' ', a + 1);
  const nl = payload.indexOf('\n', b + 1);
  if (a <= 0 || b <= a + 1 || nl <= b + 1) return undefined;
  const offset = Number(payload.slice(0, a));
  const time = Number(payload.slice(b + 1, nl));
  const data = payload.slice(nl + 1);
  if (!Number.isSafeInteger(offset) || offset < 1 || !Number.isFinite(time)) return undefined;
  return { offset, epoch: payload.slice(a + 1, b), time, data };
}

/**
 * Lua shared by both scripts: the stream's epoch, made when the metadata is missing (a new
 * stream, or one whose metadata was lost). math.random is seeded identically in every script
 * run, so the epoch comes from the server clock: seconds and microseconds in hex, unique per
 * stream lifetime on one server, and different after a restart. History left from a lost epoch
 * is deleted, so no entry is ever served under an epoch it was not published in.
 */
const ENSURE_EPOCH = `
local function ensureEpoch(meta, hist, metaTtl)
  local epoch = redis.call('HGET', meta, 'e')
  if epoch then return epoch end
  local t = redis.call('TIME')
  epoch = string.format('%x%05x', tonumber(t[1]), tonumber(t[2]))
  redis.call('HSET', meta, 'e', epoch, 'o', 0)
  redis.call('PEXPIRE', meta, metaTtl)
  redis.call('DEL', hist)
  return epoch
end
local function nowMs()
  local t = redis.call('TIME')
  return t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
end
`;

/**
 * Append and publish, atomically (a script runs alone). KEYS: meta, history[, idempotency];
 * ARGV: channel, data, size, ttlMs, metaTtlMs, idempotencyTtlMs. Returns {"<offset> <epoch>",
 * duplicate 0|1}. Validates nothing that could fail halfway: the caller checked the numbers.
 */
function publishScript(publish: 'PUBLISH' | 'SPUBLISH'): string {
  return `${ENSURE_EPOCH}
local meta, hist, idem = KEYS[1], KEYS[2], KEYS[3]
if idem then
  local seen = redis.call('GET', idem)
  if seen then return {seen, 1} end
end
local size, ttl, metaTtl = tonumber(ARGV[3]), ARGV[4], ARGV[5]
local epoch = ensureEpoch(meta, hist, metaTtl)
local offset = redis.call('HINCRBY', meta, 'o', 1)
local now = nowMs()
if size > 0 then
  redis.call('XADD', hist, 'MAXLEN', size, string.format('%d-0', offset), 't', now, 'd', ARGV[2])
  redis.call('PEXPIRE', hist, ttl)
else
  redis.call('DEL', hist)
end
redis.call('HSET', meta, 'l', ttl)
redis.call('PEXPIRE', meta, metaTtl)
local position = string.format('%d', offset) .. ' ' .. epoch
if idem then redis.call('SET', idem, position, 'PX', ARGV[6]) end
redis.call('${publish}', ARGV[1], position .. ' ' .. now .. '\\n' .. ARGV[2])
return {position, 0}`;
}

/** The script services run to publish with positions on a standalone or sentinel-managed Redis. */
export const PUBLISH_SCRIPT = publishScript('PUBLISH');
/** The same on Redis Cluster: SPUBLISH, to the shard that stores the stream. */
export const SHARDED_PUBLISH_SCRIPT = publishScript('SPUBLISH');

/**
 * The position and the stored publications after `since`. KEYS: meta, history; ARGV: since,
 * limit, metaTtlMs (for an epoch made by this read). Returns {top, epoch, (id, time, data)...}.
 * Entries older than the latest ttlMs are skipped (they are the oldest, so they come first).
 */
const HISTORY_SCRIPT = `${ENSURE_EPOCH}
local epoch = ensureEpoch(KEYS[1], KEYS[2], ARGV[3])
local m = redis.call('HMGET', KEYS[1], 'o', 'l')
local out = {tonumber(m[1] or '0'), epoch}
local limit = tonumber(ARGV[2])
if limit == 0 then return out end
local cutoff = tonumber(nowMs()) - tonumber(m[2] or '0')
local from = tonumber(ARGV[1]) + 1
local n = 0
while n < limit do
  local want = limit - n
  local batch = redis.call('XRANGE', KEYS[2], string.format('%d-0', from), '+', 'COUNT', want)
  for _, e in ipairs(batch) do
    local f = e[2]
    if tonumber(f[2]) > cutoff then
      out[#out + 1] = e[1]
      out[#out + 1] = f[2]
      out[#out + 1] = f[4]
      n = n + 1
    end
  end
  if #batch < want then break end
  from = tonumber(string.match(batch[#batch][1], '^%d+')) + 1
end
return out`;

interface BrokerCommands {
  gwBrokerPublish(numKeys: number, ...args: Array<string | number>): Promise<[string, number]>;
  gwBrokerHistory(meta: string, history: string, since: number, limit: number, metaTtlMs: number): Promise<[number, string, ...string[]]>;
}

/** How long a command waits for the very first connection (start-up) before it rejects. */
const FIRST_CONNECT_WAIT_MS = 5000;

/** Publications must reach this many replicas within the timeout before a publish resolves. */
export interface ReplicaWait {
  replicas: number;
  timeoutMs: number;
}

/** A publish was stored on the primary but not on enough replicas in time. */
export class NotReplicatedError extends Error {
  constructor(got: number, wanted: number) {
    super(`publication reached ${got} of ${wanted} replicas in time`);
    this.name = 'NotReplicatedError';
  }
}

/**
 * Streams in Redis (one Lua script per publish: append + PUBLISH, so they cannot diverge), on
 * any topology: a standalone or sentinel-managed Redis (PUBLISH, `PlainSubscriber`) or Redis
 * Cluster (SPUBLISH, `ShardedSubscriber`: every key and the channel of a stream share the
 * `{<stream>}` hash tag, so each script touches one slot and its publication one shard).
 *
 * `commands` runs the scripts and fails fast (server-kit/src/redis-connect.ts): while it is
 * down a publish rejects at once, and one in flight when it drops rejects at once, instead of
 * waiting in an offline queue, so a publisher hears "not stored, retry" (503) within
 * milliseconds; a Redis that accepts but does not answer rejects after commandTimeout (5 s).
 * Only before the first connection ever is a command held, up to FIRST_CONNECT_WAIT_MS. A
 * publish that rejects because the connection dropped mid-flight may still have been stored:
 * a retry with the same idempotency key lands once. With `replicaWait`, a publish resolves
 * only once WAIT confirms that many replicas hold it (NotReplicatedError otherwise).
 *
 * The subscriber is the only record of what should be live: it re-subscribes after every loss
 * and names the streams it re-subscribed, which the hub then fills from history (after live
 * delivery resumed, so nothing falls between). `connected` is true while commands can run and
 * every subscribed stream is live.
 */
export class RedisBroker implements Broker {
  private readonly commands: RedisClient & BrokerCommands;
  private handler: PublicationHandler = () => {};
  private readonly listeners: Array<(connected: boolean) => void> = [];
  private readonly resubscribedListeners: Array<(streams: string[]) => void> = [];
  private state = false;
  private commandsWereReady = false;
  private firstReady: Promise<void> | undefined;

  /** Takes ownership of `commands` (open it 'fail-fast') and of the subscriber. */
  constructor(
    commands: RedisClient,
    private readonly sub: ChannelSubscriber,
    opts: { sharded?: boolean; replicaWait?: ReplicaWait | undefined } = {},
  ) {
    commands.defineCommand('gwBrokerPublish', { lua: opts.sharded ? SHARDED_PUBLISH_SCRIPT : PUBLISH_SCRIPT });
    commands.defineCommand('gwBrokerHistory', { numberOfKeys: 2, lua: HISTORY_SCRIPT });
    this.commands = commands as RedisClient & BrokerCommands;
    this.replicaWait = opts.replicaWait && opts.replicaWait.replicas > 0 ? opts.replicaWait : undefined;
    sub.onMessage((channel, payload) => {
      const pub = decodePublication(payload);
      if (pub) this.handler(channelStream(channel), pub);
    });
    sub.onChange((_synced, resubscribed) => {
      this.update();
      const streams = resubscribed.map(channelStream);
      if (streams.length) for (const l of this.resubscribedListeners) l(streams);
    });
    commands.on('ready', () => ((this.commandsWereReady = true), this.update()));
    for (const ev of ['close', 'end', 'reconnecting']) commands.on(ev, () => this.update());
    if (commands.status === 'ready') this.commandsWereReady = true;
    this.update();
  }

  private readonly replicaWait: ReplicaWait | undefined;

  /** Connects to the topology: two connections, or on a cluster one per primary for subscriptions. */
  static connect(topology: RedisTopology, log: Log): RedisBroker {
    const replicaWait = { replicas: topology.waitReplicas, timeoutMs: topology.waitTimeoutMs };
    const commands = openRedis(topology, 'gateway-broker', 'fail-fast');
    if (topology.kind === 'cluster') {
      const open = (nodeKey: string) => {
        const i = nodeKey.lastIndexOf(':');
        return openClusterNode(topology, { host: nodeKey.slice(0, i), port: Number(nodeKey.slice(i + 1)) }, 'gateway-broker-ssub');
      };
      return new RedisBroker(commands, new ShardedSubscriber(commands as Cluster, open, log), { sharded: true, replicaWait });
    }
    return new RedisBroker(commands, new PlainSubscriber(openRedis(topology, 'gateway-broker-sub') as Redis), { replicaWait });
  }

  get connected(): boolean {
    return this.state;
  }

  onConnectionChange(listener: (connected: boolean) => void): void {
    this.listeners.push(listener);
  }

  onResubscribed(listener: (streams: string[]) => void): void {
    this.resubscribedListeners.push(listener);
  }

  onPublication(handler: PublicationHandler): void {
    this.handler = handler;
  }

  async publish(stream: string, data: string, opts: PublishOptions): Promise<PublishResult> {
    checkHistoryPolicy(opts.history);
    await this.firstConnect();
    const k = streamKeys(stream);
    const { size, ttlMs } = opts.history;
    const argv = [k.channel, data, size, ttlMs, Math.max(ttlMs, STREAM_META_MIN_TTL_MS), IDEMPOTENCY_TTL_MS];
    const key = opts.idempotencyKey;
    const keys = key === undefined ? [2, k.meta, k.history] : [3, k.meta, k.history, k.idempotency(key)];
    let position: string;
    let duplicate: number;
    if (this.replicaWait) {
      // One pipeline, so WAIT runs on the connection (the shard) that ran the script.
      const { replicas, timeoutMs } = this.replicaWait;
      const pipeline = this.commands.pipeline() as ReturnType<RedisClient['pipeline']> & { gwBrokerPublish(...args: Array<string | number>): unknown };
      pipeline.gwBrokerPublish(...keys, ...argv);
      pipeline.wait(replicas, timeoutMs);
      const replies = await pipeline.exec();
      const [[pubErr, pubReply], [waitErr, acked]] = replies as [[Error | null, [string, number]], [Error | null, number]];
      if (pubErr) throw pubErr;
      if (waitErr) throw waitErr;
      if (acked < replicas) throw new NotReplicatedError(acked, replicas);
      [position, duplicate] = pubReply;
    } else {
      [position, duplicate] = await this.commands.gwBrokerPublish(...(keys as [number, ...string[]]), ...argv);
    }
    const space = position.indexOf(' ');
    return { offset: Number(position.slice(0, space)), epoch: position.slice(space + 1), duplicate: duplicate === 1 };
  }

  async history(stream: string, opts: { since?: number | undefined; limit: number }): Promise<HistoryResult> {
    checkHistoryRead(opts.since, opts.limit);
    await this.firstConnect();
    const k = streamKeys(stream);
    const [top, epoch, ...entries] = await this.commands.gwBrokerHistory(k.meta, k.history, opts.since ?? 0, opts.limit, STREAM_META_MIN_TTL_MS);
    const publications: Publication[] = [];
    for (let i = 0; i + 2 < entries.length; i += 3) {
      const id = entries[i]!;
      publications.push({ offset: Number(id.slice(0, id.indexOf('-'))), epoch, time: Number(entries[i + 1]), data: entries[i + 2]! });
    }
    return { position: { offset: top, epoch }, publications };
  }

  subscribe(stream: string): Promise<void> {
    return this.sub.subscribe(streamKeys(stream).channel);
  }

  unsubscribe(stream: string): Promise<void> {
    return this.sub.unsubscribe(streamKeys(stream).channel);
  }

  streams(): string[] {
    return this.sub.channels().map(channelStream);
  }

  async close(): Promise<void> {
    await Promise.allSettled([closeRedis(this.commands), this.sub.close()]);
  }

  /** Holds a command only until the first connection ever; afterwards commands fail fast. */
  private async firstConnect(): Promise<void> {
    if (this.commandsWereReady) return;
    // One wait shared by every command held meanwhile (not one 'ready' listener each).
    this.firstReady ??= whenReady(this.commands, FIRST_CONNECT_WAIT_MS).finally(() => (this.firstReady = undefined));
    await this.firstReady;
  }

  private update(): void {
    const value = this.commands.status === 'ready' && this.sub.synced;
    if (value === this.state) return;
    this.state = value;
    for (const l of this.listeners) l(value);
  }
}
