import {
  ApiEvent,
  guildChannel,
  guildLogsChannel,
  guildLogsTopic,
  guildPrivateLogsChannel,
  guildTopic,
  validateLogEntry,
} from '@gateway/protocol';
import type { Log } from '@gateway/protocol/node';
import type { Bus, BusHandler } from '../bus/bus.js';
import type { Channels } from '../rooms/channels.js';

/**
 * The bus topics of guilds with spectators here (seed 001: subscribe only what current
 * connections need). Reference counted: the first spectator of a guild subscribes `<guild_id>`
 * (and `<guild_id>_logs` for log viewers), the last one to leave unsubscribes.
 */
export class GuildTopics {
  private readonly refs = new Map<string, { count: number; handler: BusHandler }>();

  constructor(
    private readonly bus: Bus,
    private readonly channels: Channels,
    private readonly log: Log,
  ) {}

  acquire(guildId: string, logs: boolean): void {
    this.ref(guildTopic(guildId), () => (payload) => this.channels.publish(guildChannel(guildId), payload));
    if (logs) this.ref(guildLogsTopic(guildId), () => (payload) => this.logEntry(guildId, payload));
  }

  release(guildId: string, logs: boolean): void {
    this.unref(guildTopic(guildId));
    if (logs) this.unref(guildLogsTopic(guildId));
  }

  /** Topics subscribed here, with their reference counts (for tests and metrics). */
  counts(): Map<string, number> {
    return new Map([...this.refs].map(([topic, r]) => [topic, r.count]));
  }

  /** A log entry goes to the public or the private log channel, never to both. */
  private logEntry(guildId: string, payload: string): void {
    let entry: unknown;
    try {
      entry = JSON.parse(payload);
    } catch {
      entry = undefined;
    }
    if (!validateLogEntry.check(entry) || entry.guild_id !== guildId) {
      this.log.warn('invalid log entry on the bus dropped', { guild: guildId, problem: validateLogEntry.explain(entry) });
      return;
    }
    const channel = entry.private ? guildPrivateLogsChannel(guildId) : guildLogsChannel(guildId);
    this.channels.publish(channel, `{"event":"${ApiEvent.LOG_OTHER}","data":${payload}}`);
  }

  private ref(topic: string, makeHandler: () => BusHandler): void {
    const r = this.refs.get(topic);
    if (r) {
      r.count++;
      return;
    }
    const handler = makeHandler();
    this.refs.set(topic, { count: 1, handler });
    this.bus.subscribe(topic, handler).catch((err: Error) => this.log.warn('guild topic subscribe failed', { topic, err: err.message }));
  }

  private unref(topic: string): void {
    const r = this.refs.get(topic);
    if (!r) return;
    if (--r.count > 0) return;
    this.refs.delete(topic);
    this.bus.unsubscribe(topic, r.handler).catch(() => {});
  }
}
