import { MOCK_USER_MENTION, ownCopy } from './limits.js';
import type { Tracker } from './trackers.js';

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
/** Words a date parser skips, as python-dateutil does. */
const FILLER = new Set(['at', 'on', 'of', 'and']);

/** `word` without its trailing dots and commas (a loop: `/[.,]+$/` is quadratic on `....x`). */
function trimEnd(word: string): string {
  let end = word.length;
  while (end > 0 && (word[end - 1] === '.' || word[end - 1] === ',')) end--;
  return word.slice(0, end);
}

const isFiller = (word: string): boolean => FILLER.has(trimEnd(word.toLowerCase()));

/** A weekday or month by its full name or its first three letters (`tues`, `sept` too). */
function byName(names: string[], word: string): number {
  if (word.length < 3) return -1;
  return names.findIndex((name) => name.startsWith(word));
}

/**
 * Parses `words` as a date and time, the forms the front page's demo uses and their neighbours:
 * `12pm`, `8:30pm`, `8 pm`, `20:00`, a weekday name (the next such day, today included), a month
 * name, a bare day of month, a four-digit year, and filler words (`at`, `on`). Missing parts are
 * today (in UTC, from `now`) at 00:00, as python-dateutil defaults them. Undefined when a word is
 * none of these, a part repeats, or nothing but filler was given.
 */
export function parseWhen(words: string[], now: number): Date | undefined {
  let hour: number | undefined, minute = 0, weekday: number | undefined, month: number | undefined, day: number | undefined, year: number | undefined;
  let parts = 0;
  for (let i = 0; i < words.length; i++) {
    const word = trimEnd(words[i]!.toLowerCase());
    const meridiemNext = /^[ap]\.?m\.?$/.test(words[i + 1]?.toLowerCase() ?? '') ? words[i + 1]!.toLowerCase()[0] : undefined;
    const time = /^(\d{1,2})(?::(\d{2}))?(?::\d{2})?([ap])?\.?(?:m\.?)?$/.exec(word);
    const meridiem = time?.[3] ?? (time ? meridiemNext : undefined);
    if (FILLER.has(word)) continue;
    if (time && (time[2] !== undefined || meridiem !== undefined)) {
      if (hour !== undefined) return undefined;
      let h = Number(time[1]);
      const m = Number(time[2] ?? 0);
      if (m > 59) return undefined;
      if (meridiem) {
        if (h < 1 || h > 12) return undefined;
        h = (h % 12) + (meridiem === 'p' ? 12 : 0);
        if (!time[3]) i++; // the separate am/pm word
      } else if (h > 23) return undefined;
      hour = h;
      minute = m;
    } else if (/^\d{4}$/.test(word)) {
      if (year !== undefined) return undefined;
      year = Number(word);
    } else if (/^\d{1,2}$/.test(word)) {
      if (day !== undefined || Number(word) < 1 || Number(word) > 31) return undefined;
      day = Number(word);
    } else if (byName(WEEKDAYS, word) >= 0) {
      if (weekday !== undefined) return undefined;
      weekday = byName(WEEKDAYS, word);
    } else if (byName(MONTHS, word) >= 0) {
      if (month !== undefined) return undefined;
      month = byName(MONTHS, word);
    } else return undefined;
    parts++;
  }
  if (parts === 0) return undefined;
  const today = new Date(now);
  const y = year ?? today.getUTCFullYear();
  const mo = month ?? today.getUTCMonth();
  const d = day ?? today.getUTCDate();
  const at = new Date(Date.UTC(y, mo, d, hour ?? 0, minute));
  if (at.getUTCDate() !== d) return undefined; // 31 February
  if (weekday !== undefined) at.setUTCDate(at.getUTCDate() + ((weekday - at.getUTCDay() + 7) % 7));
  return at;
}

/**
 * Words of a time that are not filler, at most: an hour and its `am`/`pm` word, a weekday, a
 * month, a day and a year (each once), and the one word after it that architus drops.
 */
const MAX_TIME_WORDS = 7;

/**
 * architus's split of `!schedule` words into a title and a time: while the remaining words are
 * not a time (nor all but their last, which is then dropped), the first of them joins the title.
 * Linear, as architus was not (each try walked all the remaining words): a time is a suffix with
 * at most MAX_TIME_WORDS words that are not filler, and a suffix starting with filler parses as
 * the one after its filler (which then joins the time, not the title), so only the starts at the
 * last few such words are tried. `parse` is injectable to count the work.
 */
export function parseSchedule(words: string[], now: number, parse: typeof parseWhen = parseWhen): { title: string; when: Date | undefined } {
  const starts: number[] = [];
  for (let i = words.length - 1; i >= 0 && starts.length < MAX_TIME_WORDS; i--) if (!isFiller(words[i]!)) starts.unshift(i);
  for (const start of starts) {
    const rest = words.slice(start);
    const when = parse(rest, now) ?? (rest.length > 1 ? parse(rest.slice(0, -1), now) : undefined);
    if (!when) continue;
    let end = start;
    while (end > 0 && isFiller(words[end - 1]!)) end--;
    return { title: words.slice(0, end).join(' '), when };
  }
  return { title: words.join(' '), when: undefined };
}

const MONTH_ABBR = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

/** strftime `%b %d %I:%M%p %Z` of a naive time: `Dec 02 12:00PM ` (empty zone, trailing space). */
export function formatWhen(at: Date): string {
  const h = at.getUTCHours();
  return `${MONTH_ABBR[at.getUTCMonth()]} ${pad(at.getUTCDate())} ${pad(((h + 11) % 12) + 1)}:${pad(at.getUTCMinutes())}${h < 12 ? 'AM' : 'PM'} `;
}

export const SCHEDULE_EMOJIS = ['✅', '❌', '🤷'] as const;
const LINES = [':white_check_mark: Yes', ':x: No', ':shrug: Maybe'];

/**
 * A schedule: the mock user is on at most one of Yes/No/Maybe. Reacting with another moves them
 * (the bot takes the old reaction away); removing their reaction takes them off the list (on
 * Discord architus leaves them listed; a demo reads better this way).
 */
export class ScheduleTracker implements Tracker {
  private choice: number | undefined;
  private readonly title: string;
  readonly size: number;

  constructor(
    title: string,
    private readonly when: Date,
  ) {
    this.title = ownCopy(title);
    this.size = title.length;
  }

  render(): string {
    const lines = LINES.map((label, i) => `${label} (${this.choice === i ? 1 : 0}): ${this.choice === i ? MOCK_USER_MENTION : ''}`);
    return `**__${this.title}__**\n**Time:** ${formatWhen(this.when)}\n${lines.join('\n')}`;
  }

  react(emoji: string, added: boolean): string[] | undefined {
    const i = SCHEDULE_EMOJIS.indexOf(emoji as (typeof SCHEDULE_EMOJIS)[number]);
    if (i < 0) return undefined;
    if (!added) {
      if (this.choice === i) this.choice = undefined;
      return [];
    }
    const previous = this.choice;
    this.choice = i;
    return previous !== undefined && previous !== i ? [SCHEDULE_EMOJIS[previous]!] : [];
  }
}
