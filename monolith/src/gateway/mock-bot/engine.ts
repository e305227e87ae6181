import { MockAction, type MockBotAction } from '@gateway/protocol';
import { fireResponse } from './auto-responses.js';
import { COMMANDS, helpText, type CommandName, type CommandOutput } from './commands.js';
import type { Random } from './random.js';
import { allocateId, rememberMessage, type GuildState } from './state.js';

/** Responses from outside the mock guild (a real guild's store, read-only): `interpret` only. */
export type ExternalResponses = (content: string) => { text: string; reactions: readonly string[] } | undefined;

export interface MessageInput {
  /** The user's message id (even on the front page). */
  readonly messageId: string;
  readonly content: string;
  /** The user's `allowed_commands`; those not in `available` are ignored. */
  readonly allowed: readonly string[];
  /** The commands this caller offers (ARCHITUS_COMMANDS on the front page). */
  readonly available: readonly CommandName[];
  /** Run the message (state changes happen) but answer nothing and remember no bot message. */
  readonly silent?: boolean;
  /** The id to answer with instead of the guild's next one (`interpret`'s 2n+1). */
  readonly replyId?: string;
  readonly external?: ExternalResponses;
}

export interface EngineDeps {
  readonly random: Random;
  readonly now: number;
}

/**
 * One user message in a mock guild, as architus dispatches it: `help` (any first character) is
 * always there; an allowed command after `!` runs (architus ran `xpoll` as `poll` and `?set` to
 * its syntax error: both are plain text here); anything else may fire the first matching auto
 * response. Returns the bot's actions (none: no reply): one 3001 with the text, then 3100 for the
 * reactions a poll or schedule starts with; an external response's reactions go on the user's
 * message. Synchronous: mutates `guild` and nothing else.
 */
export function onMessage(guild: GuildState, input: MessageInput, deps: EngineDeps): MockBotAction[] {
  const content = input.content.trim();
  if (!content) return [];
  const args = content.split(/\s+/);
  const word = args[0]!;
  const name = word.slice(1);
  const allowed = allowedCommands(input.allowed, input.available);
  let out: CommandOutput;
  let userReactions: readonly string[] = [];
  if (name === 'help') out = { text: helpText(allowed, args[1]) };
  else if (word[0] === '!' && allowed.includes(name as CommandName)) out = COMMANDS[name as CommandName].run({ content, args, guild, random: deps.random, now: deps.now });
  else {
    const own = fireResponse(guild, content, deps.random);
    const external = own === undefined ? input.external?.(content) : undefined;
    out = { text: own ?? external?.text ?? '' };
    userReactions = external?.reactions ?? [];
  }
  if (input.silent) return [];
  const actions: MockBotAction[] = [];
  if (out.text.trim() !== '') {
    const id = input.replyId ?? allocateId(guild);
    actions.push({ action: MockAction.MESSAGE_SEND, message_id: id, content: out.text });
    for (const emoji of out.reactions ?? []) actions.push({ action: MockAction.REACTION_ADD, message_id: id, emoji });
    rememberMessage(guild, id, out.tracker);
  }
  for (const emoji of userReactions) actions.push({ action: MockAction.REACTION_ADD, message_id: input.messageId, emoji });
  return actions;
}

/** `allowed` ∩ `available`, in `allowed` order, each once (help lists them in that order). */
function allowedCommands(allowed: readonly string[], available: readonly CommandName[]): CommandName[] {
  const out: CommandName[] = [];
  for (const c of allowed) if (available.includes(c as CommandName) && !out.includes(c as CommandName)) out.push(c as CommandName);
  return out;
}

/**
 * The mock user added (3100) or removed (3101) `emoji` on bot message `messageId`. A poll or
 * schedule answers 3101 `targets_user` for each of the user's reactions an exclusive choice takes
 * away, then a 3002 with the whole new content if it changed. Anything else (an unknown message,
 * a message without tracker, an emoji that is no option) answers nothing.
 */
export function onReaction(guild: GuildState, messageId: string, emoji: string, added: boolean): MockBotAction[] {
  const tracker = guild.trackers.get(messageId);
  if (!tracker) return [];
  const before = tracker.render();
  const takenAway = tracker.react(emoji, added);
  if (!takenAway) return [];
  const actions: MockBotAction[] = takenAway.map((e) => ({ action: MockAction.REACTION_REMOVE, message_id: messageId, emoji: e, targets_user: true }));
  const after = tracker.render();
  if (after !== before && after !== '') actions.push({ action: MockAction.MESSAGE_EDIT, message_id: messageId, content: after });
  return actions;
}
