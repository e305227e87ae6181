import { ApiEvent, ErrorCode, mayInterpret, validateInterpretRequest, type InterpretRequest } from '@gateway/protocol';
import { fullBucket, takeToken, type Bucket } from '@gateway/server-kit';
import type { Rooms } from '../rooms/rooms.js';
import type { Gateway } from './gateway.js';

/** An auto response of a guild: the bot answers `response` (and reacts) when `trigger` is said. */
export interface AutoResponse {
  trigger: string;
  response: string;
  reaction?: string;
}

export interface InterpretDeps {
  autoResponses(guildId: string): Promise<AutoResponse[]>;
  /** Requests per second per connection, and the burst allowed. */
  rate: number;
  burst: number;
}

export interface BotReply {
  guild_id: string;
  message_id: string;
  content: string;
  added_reactions: string[];
  edit: boolean;
}

const COMMANDS: Record<string, (args: string, seed: bigint, allowed: string[]) => string> = {
  help: (_args, _seed, allowed) => `Commands: ${allowed.map((c) => `!${c}`).join(', ')}`,
  echo: (args) => args.slice(0, 2000) || '…',
  roll: (args, seed) => {
    const m = /^(\d{1,2})?d(\d{1,4})$/i.exec(args.trim() || 'd6');
    if (!m) return 'Usage: !roll NdM';
    const dice = Math.max(1, Number(m[1] ?? 1));
    const sides = Math.max(2, Number(m[2]));
    const rolls: number[] = [];
    let x = seed;
    for (let i = 0; i < dice; i++) {
      x = (x * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
      rolls.push(Number((x >> 33n) % BigInt(sides)) + 1);
    }
    return `🎲 ${rolls.join(' + ')} = ${rolls.reduce((a, b) => a + b, 0)}`;
  },
  '8ball': (_args, seed) => ['It is certain.', 'Ask again later.', 'Very doubtful.', 'Without a doubt.'][Number(seed % 4n)]!,
};
export const BUILTIN_COMMANDS = Object.keys(COMMANDS);

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

/**
 * The front page's mock bot (seeds 000-002): built-in commands filtered by `allowed_commands`,
 * then the guild's auto responses. Pure: the same request and responses give the same reply.
 */
export function interpret(req: InterpretRequest, responses: AutoResponse[], edit: boolean): BotReply | undefined {
  const content = req.content.trim();
  const allowed = (req.allowed_commands ?? BUILTIN_COMMANDS).filter((c) => c in COMMANDS);
  const seed = BigInt(req.message_id);
  let reply = '';
  const added: string[] = [];
  const command = /^!(\S+)\s*([\s\S]*)$/.exec(content);
  if (command && allowed.includes(command[1]!.toLowerCase())) {
    reply = COMMANDS[command[1]!.toLowerCase()]!(command[2] ?? '', seed, allowed);
  } else if (!command) {
    for (const r of responses) {
      if (!wordMatch(content, r.trigger)) continue;
      if (!reply) reply = r.response;
      if (r.reaction && !added.includes(r.reaction)) added.push(r.reaction);
    }
  }
  if (!reply && added.length === 0) return undefined;
  // Bot message ids are odd, user ids even in the mock: one id space, no collisions.
  return { guild_id: req.guild_id, message_id: String(seed * 2n + 1n), content: reply, added_reactions: added, edit };
}

/**
 * Registers `interpret`, rate-limited per connection. Guests may use it on mock guilds (ids
 * below 10^7); a real guild's auto responses are read only for a token that may act on it.
 */
export function registerInterpret(gateway: Gateway, rooms: Rooms, deps: InterpretDeps): void {
  const state = new Map<string, { bucket: Bucket; answered: string[] }>();
  rooms.onLeave((conn) => state.delete(conn.id));

  gateway.on(ApiEvent.INTERPRET, async (ctx, data) => {
    if (!validateInterpretRequest.check(data)) return ctx.error(ErrorCode.BAD_REQUEST, validateInterpretRequest.explain(data));
    if (!mayInterpret(ctx.conn.claims, data.guild_id)) return ctx.error(ErrorCode.FORBIDDEN, `guild ${data.guild_id} is not a mock guild nor in your token`);
    const now = Date.now();
    let s = state.get(ctx.conn.id);
    if (!s) state.set(ctx.conn.id, (s = { bucket: fullBucket(now, deps.burst), answered: [] }));
    if (!takeToken(s.bucket, now, deps.rate, deps.burst)) return ctx.error(ErrorCode.RATE_LIMITED, `at most ${deps.rate} interpret requests per second`);

    // A message id answered before is an edit of that message: the bot edits its reply.
    const edit = s.answered.includes(data.message_id);
    const reply = interpret(data, await deps.autoResponses(data.guild_id), edit);
    if (reply && !edit) {
      s.answered.push(data.message_id);
      if (s.answered.length > 50) s.answered.shift();
    }
    if (data.silent) return;
    ctx.reply(ApiEvent.INTERPRET, reply ?? null);
  });
}
