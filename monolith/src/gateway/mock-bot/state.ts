import { MockLimits } from './limits.js';
import type { Tracker } from './trackers.js';
import type { Trigger } from './triggers.js';

/** An auto response set with `!set`, in creation order (which is also matching order). */
export interface StoredResponse {
  readonly trigger: Trigger;
  /**
   * The raw response text, as `!set` and `!remove` echo it; parsed again each time it fires
   * (linear in its ≤ 500 characters), so a guild never keeps a node tree of it.
   */
  readonly response: string;
  /** What it counts in the guild's budget. */
  readonly cost: number;
  count: number;
}

/** What one mock guild holds. Mutated only through the functions below and the commands. */
export interface GuildState {
  readonly responses: StoredResponse[];
  /**
   * Polls and schedules by bot message id, oldest first. A plain bot message is not kept: a
   * reaction on it answers nothing, known or not.
   */
  readonly trackers: Map<string, Tracker>;
  /** Budget used by responses and trackers (MockLimits.GUILD_BUDGET). */
  used: number;
  /** Bot ids are 2k+1 for k = 0, 1, …: odd (users' ids are even) and never reused. */
  nextId: number;
  lastUsed: number;
}

export function newGuildState(now: number): GuildState {
  return { responses: [], trackers: new Map(), used: 0, nextId: 0, lastUsed: now };
}

/** True while a guild keeps nothing: such a state need not be kept. */
function isBlank(guild: GuildState): boolean {
  return guild.nextId === 0 && guild.responses.length === 0 && guild.trackers.size === 0;
}

/** What a remembered poll or schedule costs in the budget. */
export const trackerCost = (tracker: Tracker): number => tracker.size + MockLimits.MESSAGE_COST;

/** The next odd bot message id, skipping any already known. */
export function allocateId(guild: GuildState): string {
  for (;;) {
    const id = String(guild.nextId++ * 2 + 1);
    if (!guild.trackers.has(id)) return id;
  }
}

/**
 * Records bot message `id`: a poll or schedule is remembered for reactions, then the oldest ones
 * are forgotten while the guild is over its budget (the new one is kept: a guild may be over by
 * that one message). Forgets what `id` was before (`interpret` answers an edit under the same id).
 */
export function rememberMessage(guild: GuildState, id: string, tracker: Tracker | undefined): void {
  forget(guild, id);
  if (!tracker) return;
  guild.trackers.set(id, tracker);
  guild.used += trackerCost(tracker);
  forgetOldest(guild, 0, id);
}

/**
 * Makes room for `cost` more by forgetting the oldest polls and schedules, if that is enough;
 * false, forgetting nothing, when the guild's auto responses alone leave too little.
 */
export function makeRoom(guild: GuildState, cost: number): boolean {
  let forgettable = 0;
  for (const tracker of guild.trackers.values()) forgettable += trackerCost(tracker);
  if (guild.used - forgettable + cost > MockLimits.GUILD_BUDGET) return false;
  forgetOldest(guild, cost, undefined);
  return true;
}

/** Forgets the oldest polls and schedules but `keep` until `cost` more fits (or none is left). */
function forgetOldest(guild: GuildState, cost: number, keep: string | undefined): void {
  for (const id of guild.trackers.keys()) {
    if (guild.used + cost <= MockLimits.GUILD_BUDGET) break;
    if (id !== keep) forget(guild, id);
  }
}

function forget(guild: GuildState, id: string): void {
  const tracker = guild.trackers.get(id);
  if (!tracker) return;
  guild.used -= trackerCost(tracker);
  guild.trackers.delete(id);
}

/**
 * Whose guilds: a visitor is its subject and whether it is a guest, since a guest's subject
 * (`anon.<connection>`, or a guest token's) may equal some signed-in user's `sub`.
 */
export interface Visitor {
  readonly guest: boolean;
  readonly subject: string;
}

interface Entry {
  readonly state: GuildState;
  readonly visitor: string;
}

/**
 * Mock guild states by (visitor, guild id): two visitors who draw the same random guild id never
 * share a guild. Least recently used first (a Map's insertion order, refreshed on every use), at
 * most maxGuilds in all and maxPerVisitor per visitor, each forgotten after idleTtlMs unused.
 */
export class MockGuilds {
  private readonly states = new Map<string, Entry>();
  /** Each visitor's keys in `states`, least recently used first. */
  private readonly byVisitor = new Map<string, Set<string>>();

  constructor(
    private readonly limits: { maxGuilds: number; maxPerVisitor: number; idleTtlMs: number } = {
      maxGuilds: MockLimits.MAX_GUILDS,
      maxPerVisitor: MockLimits.MAX_GUILDS_PER_VISITOR,
      idleTtlMs: MockLimits.IDLE_TTL_MS,
    },
  ) {}

  /**
   * Runs `fn` on the state of `guildId` for `visitor` as of `now` (a fresh one when new or
   * expired). A fresh state is kept only if `fn` leaves something in it (a response, a poll, a
   * used id), so a message that fires nothing or a reaction on an unknown message keeps nothing.
   * `family` keeps the native event's guilds apart from `interpret`'s, whose reply ids differ.
   */
  use<T>(family: 'mock' | 'interpret', visitor: Visitor, guildId: string, now: number, fn: (guild: GuildState) => T): T {
    const owner = `${visitor.guest ? 'g' : 'u'}${visitor.subject}`;
    // Unambiguous: the family is fixed, the owner's flag is one letter and a guild id is digits.
    const key = `${family}\u0000${guildId}\u0000${owner}`;
    this.expire(now);
    const entry = this.states.get(key);
    const state = entry?.state ?? newGuildState(now);
    const out = fn(state);
    state.lastUsed = now;
    if (entry) this.touch(key, entry);
    else if (!isBlank(state)) this.add(key, { state, visitor: owner });
    return out;
  }

  get size(): number {
    return this.states.size;
  }

  private touch(key: string, entry: Entry): void {
    this.states.delete(key);
    this.states.set(key, entry);
    const mine = this.byVisitor.get(entry.visitor)!;
    mine.delete(key);
    mine.add(key);
  }

  private add(key: string, entry: Entry): void {
    const before = this.byVisitor.get(entry.visitor);
    if (before && before.size >= this.limits.maxPerVisitor) this.drop(before.values().next().value!);
    let mine = this.byVisitor.get(entry.visitor);
    if (!mine) this.byVisitor.set(entry.visitor, (mine = new Set()));
    this.states.set(key, entry);
    mine.add(key);
    if (this.states.size > this.limits.maxGuilds) this.drop(this.states.keys().next().value!);
  }

  private drop(key: string): void {
    const entry = this.states.get(key)!;
    this.states.delete(key);
    const mine = this.byVisitor.get(entry.visitor)!;
    mine.delete(key);
    if (mine.size === 0) this.byVisitor.delete(entry.visitor);
  }

  private expire(now: number): void {
    // Oldest use first, so the expired ones are a prefix.
    for (const [key, entry] of this.states) {
      if (now - entry.state.lastUsed < this.limits.idleTtlMs) break;
      this.drop(key);
    }
  }
}
