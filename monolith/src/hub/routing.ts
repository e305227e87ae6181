import type { MonolithConfig } from '../config.js';
import type { HistoryPolicy } from './broker.js';
import type { Routing } from './hub.js';

const LOGS_SUFFIX = ':logs';

/**
 * Stream → channel and history policy. A stream fans out to the channel of the same name,
 * except a guild's log stream: its private entries go to `<stream>:private`, which only
 * spectators with VIEW_PRIVATE_LOGS join (one stream, so offsets seen by others skip them).
 */
export function routingFor(config: Pick<MonolithConfig, `HISTORY_${'ROOM' | 'USER' | 'GUILD' | 'LOGS'}_${'SIZE' | 'TTL_S'}`>): Routing {
  const policy = (size: number, ttlS: number): HistoryPolicy => ({ size, ttlMs: ttlS * 1000 });
  const room = policy(config.HISTORY_ROOM_SIZE, config.HISTORY_ROOM_TTL_S);
  const user = policy(config.HISTORY_USER_SIZE, config.HISTORY_USER_TTL_S);
  const guild = policy(config.HISTORY_GUILD_SIZE, config.HISTORY_GUILD_TTL_S);
  const logs = policy(config.HISTORY_LOGS_SIZE, config.HISTORY_LOGS_TTL_S);
  return {
    policyOf(stream) {
      if (stream.startsWith('user:')) return user;
      if (stream.startsWith('guild:')) return stream.endsWith(LOGS_SUFFIX) ? logs : guild;
      return room;
    },
    channelOf(stream, data) {
      if (!stream.startsWith('guild:') || !stream.endsWith(LOGS_SUFFIX)) return stream;
      return isPrivateEntry(data) ? `${stream}:private` : stream;
    },
  };
}

/** True for a `log_other` push whose entry is private. Malformed data counts as private (fail closed). */
export function isPrivateEntry(data: string): boolean {
  try {
    const message = JSON.parse(data) as { data?: { private?: unknown } };
    return message.data?.private !== false;
  } catch {
    return true;
  }
}
