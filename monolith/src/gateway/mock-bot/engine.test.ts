import { describe, expect, it } from 'vitest';
import { MockAction, type MockBotAction } from '@gateway/protocol';
import { MockBot } from './bot.js';
import type { Random } from './random.js';
import { MockGuilds } from './state.js';

/** Monday 2 December 2024, 10:00 UTC: the tests' "now". */
const MONDAY = Date.UTC(2024, 11, 2, 10, 0);

/** Random choices in the order given, then 0. */
function scripted(...picks: number[]): Random {
  return (n) => {
    const pick = picks.shift() ?? 0;
    if (pick >= n) throw new Error(`scripted pick ${pick} out of ${n}`);
    return pick;
  };
}

/**
 * A bot on a settable clock and a mock front-page window: `say` sends the next even message id
 * (0, 2, 4, … as the frontend does), `react`/`unreact` a reaction.
 */
function window(opts: { allowed?: string[]; random?: Random; guilds?: MockGuilds; subject?: string; guildId?: string } = {}) {
  const clock = { now: MONDAY };
  const bot = new MockBot({ now: () => clock.now, random: opts.random ?? scripted(), guilds: opts.guilds });
  const subject = { guest: true, subject: opts.subject ?? 'visitor' };
  const guild_id = opts.guildId ?? '4821337';
  let nextUserId = 0;
  const say = (content: string, extra: { silent?: boolean; allowed?: string[] } = {}): MockBotAction[] => {
    const message_id = String(nextUserId);
    nextUserId += 2;
    const event = { action: MockAction.MESSAGE_SEND, guild_id, message_id, content, allowed_commands: extra.allowed ?? opts.allowed ?? [], silent: extra.silent };
    return bot.handle(subject, event).actions;
  };
  const reaction = (action: typeof MockAction.REACTION_ADD | typeof MockAction.REACTION_REMOVE) => (message_id: string, emoji: string) =>
    bot.handle(subject, { action, guild_id, message_id, emoji }).actions;
  /** The text of the reply to `content` ('' for none). */
  const text = (content: string, extra?: { silent?: boolean; allowed?: string[] }) => say(content, extra).find((a) => a.action === MockAction.MESSAGE_SEND)?.content ?? '';
  return { bot, clock, say, text, react: reaction(MockAction.REACTION_ADD), unreact: reaction(MockAction.REACTION_REMOVE) };
}

const HELP_SET = '```set: set <trigger>::<response>\nSets an auto response.```\n';
const HELP_REMOVE = '```remove: remove <trigger>::<response>\nRemove an auto response.```\n';
const HELP_POLL = '```poll: poll title, option1, option2, ..., option10\nStarts a poll with up to 10 options```\n';
const HELP_XPOLL = '```xpoll: xpoll title, option1, option2, ..., option10\nStarts an exclusive poll with up to 10 options```\n';
const HELP_SCHEDULE = "```schedule: schedule <title> <event>\nStart an event poll.\nTimezone is based on your server's voice zone.```\n";
const ALL = ['set', 'remove', 'poll', 'xpoll', 'schedule'];
const schedule = (title: string, when: string, yes = '', no = '', maybe = '') =>
  `**__${title}__**\n**Time:** ${when} \n:white_check_mark: Yes (${yes ? 1 : 0}): ${yes}\n:x: No (${no ? 1 : 0}): ${no}\n:shrug: Maybe (${maybe ? 1 : 0}): ${maybe}`;
const ME = '<@%_CLIENT_ID_%>';

describe('mock bot: front-page demo scripts (spec §4)', () => {
  it('window 1 (auto responses), both sets, twice over: the loop leaves the guild clean', () => {
    const w = window({ allowed: ['set', 'remove'], random: scripted(0, 1, 1, 0) });
    for (let loop = 0; loop < 2; loop++) {
      expect(w.text('!help')).toBe(HELP_SET + HELP_REMOVE);
      expect(w.text("!set thanks::[you're welcome!,no problem!]")).toBe("✅ `thanks::[you're welcome!,no problem!]` _successfully set_");
      expect(w.text('thanks')).toBe(loop === 0 ? "you're welcome!" : 'no problem!');
      expect(w.text('thanks')).toBe(loop === 0 ? 'no problem!' : "you're welcome!");
      expect(w.text('!remove thanks')).toBe("✅ `thanks::[you're welcome!,no problem!]` _successfully removed_");
      expect(w.text('!set hi::hey')).toBe('✅ `hi::hey` _successfully set_');
      expect(w.text('hi')).toBe('hey');
      expect(w.text('!set hi::hello :wave:')).toBe('❌ sorry that trigger collides with the following auto responses:\n`hi::hey`');
      expect(w.text('!remove hi')).toBe('✅ `hi::hey` _successfully removed_');
      expect(w.text('!set hi::hello :wave:')).toBe('✅ `hi::hello :wave:` _successfully set_');
      expect(w.text('hi')).toBe('hello :wave:');
      expect(w.say('!remove hi', { silent: true })).toEqual([]);
      expect(w.say('hi')).toEqual([]);
    }
  });

  it('window 3 (polls and schedules), both sets: exact messages, reactions on the reply id', () => {
    const w = window({ allowed: ['poll', 'xpoll', 'schedule'] });
    expect(w.say('!schedule cool event 12pm')).toEqual([
      { action: 3001, message_id: '1', content: schedule('cool event', 'Dec 02 12:00PM') },
      { action: 3100, message_id: '1', emoji: '✅' },
      { action: 3100, message_id: '1', emoji: '❌' },
      { action: 3100, message_id: '1', emoji: '🤷' },
    ]);
    expect(w.say('!xpoll "a hot dog is a:" sandwich, not a sandwich')).toEqual([
      { action: 3001, message_id: '3', content: '**__a hot dog is a:__**\n0⃣ **sandwich (0)**: \n1⃣ **not a sandwich (0)**: \n' },
      { action: 3100, message_id: '3', emoji: '0⃣' },
      { action: 3100, message_id: '3', emoji: '1⃣' },
    ]);
    expect(w.text('!help')).toBe(HELP_POLL + HELP_XPOLL + HELP_SCHEDULE);
    expect(w.say('!schedule Overwatch scrims 8pm Wednesday')[0]).toEqual({ action: 3001, message_id: '7', content: schedule('Overwatch scrims', 'Dec 04 08:00PM') });
    expect(w.say('Vote in the poll above @everyone')).toEqual([]);
  });
});

describe('mock bot: commands and reply texts', () => {
  const cases: Array<[string, string, string[]?]> = [
    // help: allowed_commands order, any first character, `!help name`, nothing to list → no reply
    ['!help', HELP_REMOVE + HELP_SET, ['remove', 'set']],
    ['?help', HELP_SET, ['set']],
    ['!help set', '```set - set <trigger>::<response>\nSets an auto response.```', ['set']],
    ['!help poll', '', ['set']],
    ['!help', '', []],
    ['!help', '', ['emotes', '8ball']],
    // set
    ['!set a::b', '✅ `a::b` _successfully set_'],
    ['!set  spaced  ::  out  ', '✅ `spaced::out` _successfully set_'],
    ['!set a:b', '❌ **nice brain** use two `::`\n`!set <a>::<b>`'],
    ['!set a', '❌ use the syntax: `trigger::response`'],
    // a command needs its `!` (architus ran `xpoll` as `poll` and answered `?set` its syntax error)
    ['xset a::b', ''],
    ['?set a::b', ''],
    ['xpoll t a, b', ''],
    ['?schedule party 5pm', ''],
    ['!set a::[b', "❌ unable to parse that response: `('Missed a closing bracket somewhere', 0)`"],
    ['!set a::b]', "❌ unable to parse that response: `('This bracket has no opening bracket', 1)`"],
    [`!set ${'t'.repeat(101)}::b`, '❌ that trigger is too long :confused: max length is 100 characters'],
    [`!set t::${'r'.repeat(501)}`, '❌ that response is too long :confused: max length is 500 characters'],
    // remove
    ['!remove nothing', '❌ idk what response you want me to remove'],
    ['!remove', '❌ idk what response you want me to remove'],
    // poll, xpoll
    ['!poll color red, blue', '**__color__**\n0⃣ **red (0)**: \n1⃣ **blue (0)**: \n'],
    ['!poll "two words" a,b ', '**__two words__**\n0⃣ **a (0)**: \n1⃣ **b (0)**: \n'],
    ['!poll', "Sorry, I couldn't parse that nonsense."],
    ['!poll x', "Sorry, I couldn't parse that nonsense."],
    ['!xpoll t 0,1,2,3,4,5,6,7,8,9,10,11', `**__t__**\n${Array.from({ length: 10 }, (_, i) => `${i}⃣ **${i} (0)**: \n`).join('')}`],
    // schedule
    ['!schedule', 'what time?'],
    ['!schedule party', 'what time?'],
    ['!schedule 5pm', 'what event?'],
    ['!schedule lunch 12:30 friday', schedule('lunch', 'Dec 06 12:30PM')],
    ['!schedule standup at 9 am on monday', schedule('standup', 'Dec 02 09:00AM')],
    ['!schedule party tomorrow 5pm', schedule('party tomorrow', 'Dec 02 05:00PM')],
    ['!schedule demo 5 extra', schedule('demo', 'Dec 05 12:00AM')],
    // not allowed or unknown: ordinary text, no auto response → no reply
    ['!poll color red, blue', '', ['set']],
    ['!emotes', '', ['emotes']],
    ['', ''],
    ['   ', ''],
  ];
  it.each(cases)('%j → %j', (content, reply, allowed = ALL) => {
    expect(window({ allowed }).text(content)).toBe(reply);
  });

  it('removes only the exact stored trigger, multi-word and with a ::tail', () => {
    const w = window({ allowed: ALL });
    w.text('!set good bot::thanks');
    expect(w.text('!remove Good bot')).toBe('❌ idk what response you want me to remove');
    expect(w.text('!remove good bot::whatever')).toBe('✅ `good bot::thanks` _successfully removed_');
  });

  it('matches the whole message, case and punctuation aside (naive), or keeping its own punctuation', () => {
    const w = window({ allowed: ALL });
    w.text('!set thanks::np');
    w.text('!set c++::plus plus');
    expect(['thanks', 'Thanks!', 'thanks.', '  THANKS  ', 'thanks bot', 'c++', 'C++!', 'c+', 'c'].map((m) => w.text(m))).toEqual(['np', 'np', 'np', 'np', '', 'plus plus', 'plus plus', '', '']);
  });

  it('lists at most 4 colliding responses, then how many more', () => {
    const w = window({ allowed: ALL });
    // Each keeps '.' in another place, so they do not collide with each other (`h.i` never is `hi.`).
    for (const t of ['h.i', 'hi.', '.hi', 'h.i.', '.h.i']) expect(w.text(`!set ${t}::x`)).toMatch(/^✅/);
    expect(w.text('!set hi::y')).toBe('❌ sorry that trigger collides with the following auto responses:\n`h.i::x`\n`hi.::x`\n`.hi::x`\n`h.i.::x`\n_...1 more not shown_');
  });

  it('renders [count] (first firing 1), [author], escapes, nested choices with kept spaces, unknown tokens literally', () => {
    const w = window({ allowed: ALL, random: scripted(1, 0) });
    w.text('!set count::#[count] by [author]');
    w.text('!set pick::<[a, [b, c]]>');
    w.text('!set raw::\\[x\\] [noun] [:wave:] @everyone');
    expect([w.text('count'), w.text('count'), w.text('pick'), w.text('raw')]).toEqual(['#1 by bad guy', '#2 by bad guy', '< b>', '[x] [noun] [:wave:] \\@everyone']);
  });

  it('fires the first matching response only, and a blank rendering sends nothing', () => {
    const w = window({ allowed: ALL });
    w.text('!set hey::[ , ]');
    expect(w.say('hey')).toEqual([]);
  });

  it('gives every reply a new odd id, whatever the user ids, and answers no reply with no actions', () => {
    const w = window({ allowed: ALL });
    const ids = ['!set a::1', 'a', 'nothing', '!help', 'a'].map((m) => w.say(m)[0]?.message_id);
    expect(ids).toEqual(['1', '3', undefined, '5', '7']);
  });

  it('silent: runs the command, answers nothing, remembers no message to react to', () => {
    const w = window({ allowed: ALL });
    expect(w.say('!xpoll t a, b', { silent: true })).toEqual([]);
    expect(w.react('1', '0⃣')).toEqual([]);
    expect(w.say('!set s::t', { silent: true })).toEqual([]);
    expect(w.text('s')).toBe('t');
  });
});

describe('mock bot: reactions', () => {
  it('poll: votes add and go independently, each change one 3002 with the whole content', () => {
    const w = window({ allowed: ALL });
    w.say('!poll color red, blue');
    expect(w.react('1', '0⃣')).toEqual([{ action: 3002, message_id: '1', content: `**__color__**\n0⃣ **red (1)**: ${ME}\n1⃣ **blue (0)**: \n` }]);
    expect(w.react('1', '1⃣')).toEqual([{ action: 3002, message_id: '1', content: `**__color__**\n0⃣ **red (1)**: ${ME}\n1⃣ **blue (1)**: ${ME}\n` }]);
    expect(w.react('1', '1⃣')).toEqual([]);
    expect(w.unreact('1', '0⃣')).toEqual([{ action: 3002, message_id: '1', content: `**__color__**\n0⃣ **red (0)**: \n1⃣ **blue (1)**: ${ME}\n` }]);
    expect(w.unreact('1', '0⃣')).toEqual([]);
  });

  it('xpoll: a second vote takes the first away (3101 targets_user), un-voting re-renders', () => {
    const w = window({ allowed: ALL });
    w.say('!xpoll "a hot dog is a:" sandwich, not a sandwich');
    w.react('1', '0⃣');
    expect(w.react('1', '1⃣')).toEqual([
      { action: 3101, message_id: '1', emoji: '0⃣', targets_user: true },
      { action: 3002, message_id: '1', content: `**__a hot dog is a:__**\n0⃣ **sandwich (0)**: \n1⃣ **not a sandwich (1)**: ${ME}\n` },
    ]);
    expect(w.unreact('1', '1⃣')).toEqual([{ action: 3002, message_id: '1', content: '**__a hot dog is a:__**\n0⃣ **sandwich (0)**: \n1⃣ **not a sandwich (0)**: \n' }]);
  });

  it('schedule: one list at a time, switching takes the old reaction away, un-react removes the user', () => {
    const w = window({ allowed: ALL });
    w.say('!schedule cool event 12pm');
    expect(w.react('1', '✅')).toEqual([{ action: 3002, message_id: '1', content: schedule('cool event', 'Dec 02 12:00PM', ME) }]);
    expect(w.react('1', '✅')).toEqual([]);
    expect(w.react('1', '🤷')).toEqual([
      { action: 3101, message_id: '1', emoji: '✅', targets_user: true },
      { action: 3002, message_id: '1', content: schedule('cool event', 'Dec 02 12:00PM', '', '', ME) },
    ]);
    expect(w.unreact('1', '❌')).toEqual([]);
    expect(w.unreact('1', '🤷')).toEqual([{ action: 3002, message_id: '1', content: schedule('cool event', 'Dec 02 12:00PM') }]);
  });

  it('answers nothing for an unknown message, a plain bot message, a user message or an emoji that is no option', () => {
    const w = window({ allowed: ALL });
    w.say('!set a::b');
    w.say('!poll t x, y');
    expect([w.react('999', '0⃣'), w.react('1', '0⃣'), w.react('0', '0⃣'), w.react('3', '👍'), w.react('3', '2⃣'), w.react('3', '0️⃣'), w.unreact('3', '✅')]).toEqual([[], [], [], [], [], [], []]);
  });
});

describe('mock bot: state per (visitor, guild)', () => {
  it('keeps no state for a reaction on an unknown message or a message that fires nothing', () => {
    const w = window({ allowed: ALL });
    expect(w.react('999', '✅')).toEqual([]);
    expect(w.unreact('1', '0⃣')).toEqual([]);
    expect(w.say('hello')).toEqual([]);
    expect(w.say('!remove x', { silent: true })).toEqual([]);
    expect(w.bot.guilds.size).toBe(0);
    w.say('!poll t a, b');
    expect(w.bot.guilds.size).toBe(1);
  });

  it('keeps two visitors with the same guild id apart', () => {
    const guilds = new MockGuilds();
    const alice = window({ allowed: ALL, guilds, subject: 'alice' });
    const bob = window({ allowed: ALL, guilds, subject: 'bob' });
    alice.say('!set thanks::np');
    alice.say('!poll t x, y');
    expect(bob.text('thanks')).toBe('');
    expect(bob.react('3', '0⃣')).toEqual([]);
    expect(bob.text('!set thanks::mine')).toBe('✅ `thanks::mine` _successfully set_');
    expect(alice.text('thanks')).toBe('np');
    expect(bob.say('!poll u a, b')[0]?.message_id).toBe('3');
  });
});
