import { isMockGuild, MockAction, type MockBotEvent, type MockUserEvent } from '@gateway/protocol';
import { ARCHITUS_COMMANDS } from './commands.js';
import { onMessage, onReaction } from './engine.js';
import { mathRandom, type Random } from './random.js';
import { MockGuilds, type Visitor } from './state.js';

export interface MockBotOptions {
  /** ms since the epoch: idle expiry and the schedule's "today" (UTC). */
  now?: () => number;
  random?: Random;
  guilds?: MockGuilds;
}

/**
 * The front page's mock bot: architus's five commands and auto responses, per (visitor, mock
 * guild), in memory only. Never reads or writes the store: a mock guild is not a real guild.
 */
export class MockBot {
  readonly guilds: MockGuilds;
  readonly now: () => number;
  readonly random: Random;

  constructor(opts: MockBotOptions = {}) {
    this.guilds = opts.guilds ?? new MockGuilds();
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? mathRandom;
  }

  /** One `mock_user_event` from `visitor`; the caller has checked that the guild is a mock guild. */
  handle(visitor: Visitor, event: MockUserEvent): MockBotEvent {
    if (!isMockGuild(event.guild_id)) throw new Error(`guild ${event.guild_id} is not a mock guild`);
    const now = this.now();
    const actions = this.guilds.use('mock', visitor, event.guild_id, now, (guild) =>
      event.action === MockAction.MESSAGE_SEND
        ? onMessage(guild, { messageId: event.message_id, content: event.content, allowed: event.allowed_commands ?? [], available: ARCHITUS_COMMANDS, silent: event.silent }, { random: this.random, now })
        : onReaction(guild, event.message_id, event.emoji, event.action === MockAction.REACTION_ADD),
    );
    return { guild_id: event.guild_id, actions };
  }
}
