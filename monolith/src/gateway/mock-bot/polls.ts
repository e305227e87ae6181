import { MockLimits, MOCK_USER_MENTION, ownCopy } from './limits.js';
import type { Tracker } from './trackers.js';

const MAX_OPTIONS = 10;

/** Keycap digit `n` as architus sends it: digit + U+20E3, no U+FE0F. Polls count from 0. */
export const keycap = (n: number): string => `${n}\u20e3`;

/**
 * architus v1 poll syntax (`!poll title option, option…`): a title in double quotes (first to
 * last quote) or else the first word, then options split on `,` with leading spaces removed, at
 * most 10. Undefined when there is no title and options. Unlike architus, non-ASCII text is not
 * transliterated first.
 */
export function parsePoll(content: string): { title: string; options: string[] } | undefined {
  const m = /^\S*poll (".*"|\S+?) (.*)/.exec(content);
  if (!m) return undefined;
  const title = m[1]!.startsWith('"') ? m[1]!.slice(1, -1) : m[1]!;
  return { title, options: m[2]!.split(',').slice(0, MAX_OPTIONS).map((o) => o.trimStart()) };
}

export const POLL_PARSE_ERROR = "Sorry, I couldn't parse that nonsense.";

/** A poll; `exclusive` (xpoll) keeps at most one vote of the user. */
export class PollTracker implements Tracker {
  private readonly votes: boolean[];
  readonly size: number;

  private readonly title: string;
  private readonly options: string[];

  constructor(
    title: string,
    options: string[],
    private readonly exclusive: boolean,
  ) {
    this.title = ownCopy(title);
    this.options = options.map(ownCopy);
    this.votes = options.map(() => false);
    this.size = title.length + options.reduce((n, o) => n + o.length + MockLimits.OPTION_COST, 0);
  }

  /** The reactions the bot adds under a new poll, one per option. */
  emojis(): string[] {
    return this.options.map((_, i) => keycap(i));
  }

  render(): string {
    let out = `**__${this.title}__**\n`;
    this.options.forEach((option, i) => {
      const voted = this.votes[i]!;
      out += `${keycap(i)} **${option} (${voted ? 1 : 0})**: ${voted ? MOCK_USER_MENTION : ''}\n`;
    });
    return out;
  }

  react(emoji: string, added: boolean): string[] | undefined {
    const i = this.options.findIndex((_, n) => keycap(n) === emoji);
    if (i < 0) return undefined;
    const takenAway: string[] = [];
    if (added && this.exclusive) {
      this.votes.forEach((voted, n) => {
        if (voted && n !== i) {
          this.votes[n] = false;
          takenAway.push(keycap(n));
        }
      });
    }
    this.votes[i] = added;
    return takenAway;
  }
}
