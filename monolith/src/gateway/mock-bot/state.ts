import { MockLimits } from './limits.js';
import type { ResponseNode } from './response-grammar.js';
import type { Trigger } from './triggers.js';
import type { Tracker } from './trackers.js';

/** An auto response set with `!set`, in creation order (which is also matching order). */
export interface StoredResponse {
  readonly trigger: Trigger;
  /** The raw response text, as `!set` and `!remove` echo it. */
  readonly response: string;
  readonly nodes: ResponseNode[];
  count: number;
}

/** What one mock guild holds. Mutated only through the functions below and the commands. */
export interface GuildState {
  readonly responses: StoredResponse[];
  /** Bot messages by id, oldest first; a poll or schedule carries its tracker. */
  readonly messages: Map<string, { tracker?: Tracker }>;
  /** Characters held in responses and trackers (MockLimits.GUILD_TEXT_BUDGET). */
  chars: number;
  /** Bot ids are 2k+1 for k = 0, 1, …: odd (users' ids are even) and never reused. */
  nextId: number;
  lastUsed: number;
}

export function newGuildState(now: number): GuildState {
  return { responses: [], messages: new Map(), chars: 0, nextId: 0, lastUsed: now };
}

/** The next odd bot message id, skipping any already known. */
export function allocateId(guild: GuildState): string {
  for (;;) {
    const id = String(guild.nextId++ * 2 + 1);
    if (!guild.messages.has(id)) return id;
  }
}

/**
 * Remembers a bot message, dropping the oldest beyond MAX_MESSAGES, then the oldest polls and
 * schedules while the guild is over its text budget (the new one is kept: a guild may be over by
 * that one message's text).
 */
export function rememberMessage(guild: GuildState, id: string, tracker: Tracker | undefined): void {
  forget(guild, id); // `interpret` answers an edited message under the same id
  guild.messages.set(id, tracker ? { tracker } : {});
  if (tracker) guild.chars += tracker.size;
  while (guild.messages.size > MockLimits.MAX_MESSAGES) forget(guild, guild.messages.keys().next().value!);
  for (const [oldId, message] of guild.messages) {
    if (guild.chars <= MockLimits.GUILD_TEXT_BUDGET || oldId === id) break;
    if (message.tracker) forget(guild, oldId);
  }
}

function forget(guild: GuildState, id: string): void {
  const tracker = guild.messages.get(id)?.tracker;
  if (tracker) guild.chars -= tracker.size;
  guild.messages.delete(id);
}

/**
 * Mock guild states by (connection subject, guild id): two visitors who draw the same random
 * guild id never share a guild. Least recently used first (a Map's insertion order, refreshed on
 * every use), at most MAX_GUILDS, each forgotten after IDLE_TTL_MS without use.
 */
export class MockGuilds {
  private readonly states = new Map<string, GuildState>();

  constructor(private readonly limits: { maxGuilds: number; idleTtlMs: number } = { maxGuilds: MockLimits.MAX_GUILDS, idleTtlMs: MockLimits.IDLE_TTL_MS }) {}

  /**
   * The state of `guildId` for `subject` as of `now` (fresh when new or expired); `family`
   * keeps the native event's guilds apart from `interpret`'s, whose reply ids differ.
   */
  get(family: 'mock' | 'interpret', subject: string, guildId: string, now: number): GuildState {
    // Unambiguous: the family is fixed and a guild id is digits only.
    const key = `${family}\u0000${subject}\u0000${guildId}`;
    this.expire(now);
    let state = this.states.get(key);
    if (state) this.states.delete(key);
    else state = newGuildState(now);
    state.lastUsed = now;
    this.states.set(key, state);
    for (const oldest of this.states.keys()) {
      if (this.states.size <= this.limits.maxGuilds) break;
      this.states.delete(oldest);
    }
    return state;
  }

  get size(): number {
    return this.states.size;
  }

  private expire(now: number): void {
    // Oldest use first, so the expired ones are a prefix.
    for (const [key, state] of this.states) {
      if (now - state.lastUsed < this.limits.idleTtlMs) break;
      this.states.delete(key);
    }
  }
}
