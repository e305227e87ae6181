import { ApiEvent, ErrorCode, isMockGuild, MockAction, mayInterpret, validateInterpretRequest, type InterpretRequest, type MockBotAction } from '@gateway/protocol';
import type { Rooms } from '../rooms/rooms.js';
import type { ConnectionRateLimit } from './connection-rate.js';
import type { Gateway } from './gateway.js';
import type { MockBot } from './mock-bot/bot.js';
import { ARCHITUS_COMMANDS, STATELESS_COMMANDS, type CommandName } from './mock-bot/commands.js';
import { onMessage, type ExternalResponses } from './mock-bot/engine.js';
import { seededRandom } from './mock-bot/random.js';
import { newGuildState, type GuildState } from './mock-bot/state.js';

/** An auto response of a guild: the bot answers `response` (and reacts) when `trigger` is said. */
export interface AutoResponse {
  trigger: string;
  response: string;
  reaction?: string;
}

export interface InterpretDeps {
  autoResponses(guildId: string): Promise<AutoResponse[]>;
  bot: MockBot;
  /** Shared with `mock_user_event`: one budget per connection. */
  limit: ConnectionRateLimit;
}

export interface BotReply {
  guild_id: string;
  message_id: string;
  content: string;
  added_reactions: string[];
  edit: boolean;
}

/** What `interpret` offers when `allowed_commands` is not given (`help` is always there). */
export const BUILTIN_COMMANDS: readonly CommandName[] = STATELESS_COMMANDS;
const MOCK_GUILD_COMMANDS: readonly CommandName[] = [...ARCHITUS_COMMANDS, ...STATELESS_COMMANDS];

function wordMatch(content: string, trigger: string): boolean {
  const t = trigger.toLowerCase().trim();
  if (!t) return false;
  const c = content.toLowerCase();
  const at = c.indexOf(t);
  if (at < 0) return false;
  const before = at === 0 ? ' ' : c[at - 1]!;
  const after = at + t.length >= c.length ? ' ' : c[at + t.length]!;
  return !/[\p{L}\p{N}]/u.test(before) && !/[\p{L}\p{N}]/u.test(after);
}

/** A guild's stored auto responses, read-only: the first whole-word match answers, all react. */
function storeResponses(responses: AutoResponse[]): ExternalResponses {
  return (content) => {
    let text = '';
    const reactions: string[] = [];
    for (const r of responses) {
      if (!wordMatch(content, r.trigger)) continue;
      if (!text) text = r.response;
      if (r.reaction && !reactions.includes(r.reaction)) reactions.push(r.reaction);
    }
    return text || reactions.length > 0 ? { text, reactions } : undefined;
  };
}

/**
 * The mock bot's engine behind `interpret`: its commands filtered by `allowed_commands` (default
 * echo, roll, 8ball; on a mock guild with `guild` given, architus's five too), then the mock
 * guild's own auto responses, or without `guild` `responses` (a real guild's, read-only). Random choices are seeded by the
 * message id, so one request and state give one reply. The bot's id is 2n+1 for message n.
 */
export function interpret(req: InterpretRequest, responses: AutoResponse[], edit: boolean, guild?: GuildState, now = Date.now()): BotReply | undefined {
  const id = BigInt(req.message_id);
  const actions = onMessage(
    guild ?? newGuildState(now),
    {
      messageId: req.message_id,
      content: req.content,
      allowed: req.allowed_commands ?? BUILTIN_COMMANDS,
      silent: req.silent,
      available: guild ? MOCK_GUILD_COMMANDS : STATELESS_COMMANDS,
      replyId: String(id * 2n + 1n),
      // A mock guild is never a real guild: nothing of the store is shown under its id.
      external: guild ? undefined : storeResponses(responses),
    },
    { random: seededRandom(Number(id % 0x100000000n)), now },
  );
  return toReply(req.guild_id, String(id * 2n + 1n), actions, edit);
}

/** The engine's actions in interpret's shape: the text, and every reaction the bot adds. */
function toReply(guildId: string, messageId: string, actions: MockBotAction[], edit: boolean): BotReply | undefined {
  if (actions.length === 0) return undefined;
  const content = actions.find((a) => a.action === MockAction.MESSAGE_SEND)?.content ?? '';
  const added: string[] = [];
  for (const a of actions) if (a.action === MockAction.REACTION_ADD && !added.includes(a.emoji!)) added.push(a.emoji!);
  return { guild_id: guildId, message_id: messageId, content, added_reactions: added, edit };
}

/**
 * Registers `interpret`, rate-limited per connection. Guests may use it on mock guilds (ids
 * below 10^7), whose engine state is kept per (visitor, guild) and which never read the store; a
 * real guild's auto responses are read only for a token that may act on it, and nothing is kept
 * for it.
 */
export function registerInterpret(gateway: Gateway, rooms: Rooms, deps: InterpretDeps): void {
  const answered = new Map<string, string[]>();
  rooms.onLeave((conn) => answered.delete(conn.id));

  gateway.on(ApiEvent.INTERPRET, async (ctx, data) => {
    if (!validateInterpretRequest.check(data)) return ctx.error(ErrorCode.BAD_REQUEST, validateInterpretRequest.explain(data));
    if (!mayInterpret(ctx.conn.claims, data.guild_id)) return ctx.error(ErrorCode.FORBIDDEN, `guild ${data.guild_id} is not a mock guild nor in your token`);
    if (!deps.limit.take(ctx.conn.id)) return ctx.error(ErrorCode.RATE_LIMITED, `at most ${deps.limit.rate} interpret requests per second`);
    let mine = answered.get(ctx.conn.id);
    if (!mine) answered.set(ctx.conn.id, (mine = []));

    // A message id answered before is an edit of that message: the bot edits its reply.
    const edit = mine.includes(data.message_id);
    const now = deps.bot.now();
    const reply = isMockGuild(data.guild_id)
      ? deps.bot.guilds.use('interpret', ctx.conn, data.guild_id, now, (guild) => interpret(data, [], edit, guild, now))
      : interpret(data, await deps.autoResponses(data.guild_id), edit, undefined, now);
    if (reply && !edit) {
      mine.push(data.message_id);
      if (mine.length > 50) mine.shift();
    }
    if (data.silent) return;
    ctx.reply(ApiEvent.INTERPRET, reply ?? null);
  });
}
