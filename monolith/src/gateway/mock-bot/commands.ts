import { removeResponse, setResponse } from './auto-responses.js';
import { parsePoll, POLL_PARSE_ERROR, PollTracker } from './polls.js';
import type { Random } from './random.js';
import { parseSchedule, SCHEDULE_EMOJIS, ScheduleTracker } from './schedule.js';
import type { GuildState } from './state.js';
import type { Tracker } from './trackers.js';

export interface CommandInput {
  /** The whole message, trimmed. */
  readonly content: string;
  /** The message split on whitespace; `args[0]` is the command word. */
  readonly args: readonly string[];
  readonly guild: GuildState;
  readonly random: Random;
  /** ms since the epoch (the schedule's "today", in UTC). */
  readonly now: number;
}

/** What a command says: its text, and a poll or schedule the message becomes with its reactions. */
export interface CommandOutput {
  text: string;
  tracker?: Tracker;
  reactions?: readonly string[];
}

export interface Command {
  /** `!help` text: usage line, then what it does (architus's wording for its five). */
  readonly help: string;
  run(input: CommandInput): CommandOutput;
}

function poll(exclusive: boolean): Command['run'] {
  return ({ content }) => {
    const parsed = parsePoll(content);
    if (!parsed) return { text: POLL_PARSE_ERROR };
    const tracker = new PollTracker(parsed.title, parsed.options, exclusive);
    return { text: tracker.render(), tracker, reactions: tracker.emojis() };
  };
}

const EIGHT_BALL = ['It is certain.', 'Ask again later.', 'Very doubtful.', 'Without a doubt.'];

/**
 * Every command the engine knows. The front page's bot offers architus's five (ARCHITUS_COMMANDS);
 * `interpret` adds echo, roll and 8ball. `help` is not here: it is always available.
 */
export const COMMANDS = {
  set: { help: 'set <trigger>::<response>\nSets an auto response.', run: ({ content, guild }) => ({ text: setResponse(guild, content) }) },
  remove: { help: 'remove <trigger>::<response>\nRemove an auto response.', run: ({ content, guild }) => ({ text: removeResponse(guild, content) }) },
  poll: { help: 'poll title, option1, option2, ..., option10\nStarts a poll with up to 10 options', run: poll(false) },
  xpoll: { help: 'xpoll title, option1, option2, ..., option10\nStarts an exclusive poll with up to 10 options', run: poll(true) },
  schedule: {
    help: "schedule <title> <event>\nStart an event poll.\nTimezone is based on your server's voice zone.",
    run: ({ args, now }) => {
      // architus asks and waits 30 s for an answer that never comes in a mock guild: we only ask.
      const { title, when } = parseSchedule(args.slice(1), now);
      if (!when) return { text: 'what time?' };
      if (!title) return { text: 'what event?' };
      const tracker = new ScheduleTracker(title, when);
      return { text: tracker.render(), tracker, reactions: SCHEDULE_EMOJIS };
    },
  },
  echo: { help: 'echo <text>\nRepeats the text.', run: ({ content, args }) => ({ text: content.slice(args[0]!.length).trim() || '…' }) },
  roll: {
    help: 'roll NdM\nRolls N dice with M sides (1d6 if not said).',
    run: ({ args, random }) => {
      const m = /^(\d{1,2})?d(\d{1,4})$/i.exec(args[1] ?? 'd6');
      if (!m || args.length > 2) return { text: 'Usage: !roll NdM' };
      const dice = Math.max(1, Number(m[1] ?? 1));
      const sides = Math.max(2, Number(m[2]));
      const rolls = Array.from({ length: dice }, () => random(sides) + 1);
      return { text: `🎲 ${rolls.join(' + ')} = ${rolls.reduce((a, b) => a + b, 0)}` };
    },
  },
  '8ball': { help: '8ball <question>\nAnswers a yes-or-no question.', run: ({ random }) => ({ text: EIGHT_BALL[random(EIGHT_BALL.length)]! }) },
} satisfies Record<string, Command>;

export type CommandName = keyof typeof COMMANDS;

/** architus's mock bot: what `allowed_commands` may enable on the front page. */
export const ARCHITUS_COMMANDS: readonly CommandName[] = ['poll', 'xpoll', 'schedule', 'set', 'remove'];
/** Commands that keep nothing in the guild. */
export const STATELESS_COMMANDS: readonly CommandName[] = ['echo', 'roll', '8ball'];

/**
 * `!help`: each allowed command as a code block `name: help`, in `allowed` order, each followed
 * by a newline; `!help name` that one as `name - help`, no newline. '' (no reply) for a name
 * that is not allowed or when nothing is.
 */
export function helpText(allowed: readonly CommandName[], name: string | undefined): string {
  const fence = '```';
  if (name === undefined) return allowed.map((c) => `${fence}${c}: ${COMMANDS[c].help}${fence}\n`).join('');
  return allowed.includes(name as CommandName) ? `${fence}${name} - ${COMMANDS[name as CommandName].help}${fence}` : '';
}
