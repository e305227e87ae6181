import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Permission } from '@gateway/protocol';
import { connect, startStack, uniq, useHarness, userToken, type Stack, type TestClient } from '../harness/index.js';
import { logEntry, postLog } from '../harness/gateway-http.js';

// The real architus dashboard as a client (README "For architus users"): a socket on
// `/authenticated` that sends and expects exactly the frames the dashboard's current source
// (architus/archit.us, develop) sends and decodes: flat `{_event, ...}` frames, `_seq` answered
// by `seq`, sign-in by the `token` cookie of the upgrade, the front page's mock bot over `ping`
// frames with an `action`. Real balancer and monolith processes with the demo fixture.

useHarness();

const DASHBOARD = 'https://archit.us.test';
const DEMO_GUILD = '1234567890';
const OTHER_GUILD = '2345678901';
const MOCK = 4821337;
const CLIENT_MENTION = '<@%_CLIENT_ID_%>';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ monoliths: 1, balancers: 1, monolithEnv: { DEMO_FIXTURE: 'true' }, balancerEnv: { ALLOWED_ORIGINS: DASHBOARD } });
});
afterAll(async () => {
  await stack?.stop();
});

type Frame = Record<string, unknown>;

/** A dashboard socket: `/authenticated`, from the dashboard's origin, with the sign-in cookie if given. */
async function dashboard(cookieToken?: string, origin = DASHBOARD): Promise<TestClient> {
  const headers: Record<string, string> = { origin };
  if (cookieToken !== undefined) headers.cookie = `theme=dark; token=${cookieToken}`;
  return connect(stack.balancers[0]!.url('/authenticated'), { headers });
}

/** The next frame with `_event` (and `seq`, if given). */
const nextDialect = (c: TestClient, event: string, seq?: number): Promise<Frame> =>
  c.next((m) => (m as Frame)._event === event && (seq === undefined || (m as Frame).seq === seq)) as Promise<Frame>;

/** Sends what the front page's DiscordMock sends for a typed line, returns the bot's answer. */
async function say(c: TestClient, messageId: number, content: string, allowedCommands: string[], silent = false): Promise<Frame> {
  c.send({ _event: 'ping', action: 3001, guildId: MOCK, messageId, content, silent, allowedCommands });
  return nextDialect(c, 'mock_bot_event');
}

async function react(c: TestClient, action: 3100 | 3101, messageId: number, emoji: string): Promise<Frame> {
  c.send({ _event: 'ping', action, guildId: MOCK, messageId, emoji });
  return nextDialect(c, 'mock_bot_event');
}

const actions = (f: Frame) => f.actions as Frame[];

describe('architus dashboard: sign-in', () => {
  it('signs in with the token cookie of the upgrade (no auth frame) and answers in flat frames', async () => {
    const sub = uniq('user');
    const c = await dashboard(await userToken({ sub, guilds: { [DEMO_GUILD]: Permission.ADMINISTRATOR } }));
    const welcome = await nextDialect(c, 'welcome');
    expect(welcome).toMatchObject({ room: `user:${sub}`, user: { id: sub, guest: false } });
    expect(welcome.event).toBeUndefined();
    expect(welcome.data).toBeUndefined();
    c.close();
  });

  it('without a cookie the front page is a tokenless guest; a cookie from a socket without Origin is not read', async () => {
    const bare = await dashboard();
    expect(await nextDialect(bare, 'welcome')).toMatchObject({ user: { guest: true } });
    const noOrigin = await connect(stack.balancers[0]!.url('/authenticated'), { headers: { cookie: `token=${await userToken({ sub: 'alice' })}` } });
    expect(await nextDialect(noOrigin, 'welcome')).toMatchObject({ user: { guest: true } });
    bare.close();
    noOrigin.close();
  });

  it('closes a socket from an origin the operator does not allow (4111), cookie or not', async () => {
    const c = await dashboard(await userToken({ sub: 'alice' }), 'https://evil.test');
    expect((await c.closed()).code).toBe(4111);
  });

  it('a stale cookie does not lock the front page out: a guest, told with a numeric error code', async () => {
    const c = await dashboard(await userToken({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 60 }));
    expect(await nextDialect(c, 'error')).toMatchObject({ code: 401, details: 'token_rejected' });
    expect(await nextDialect(c, 'welcome')).toMatchObject({ user: { guest: true } });
    c.close();
  });
});

describe('architus dashboard: pools', () => {
  let c: TestClient;
  beforeAll(async () => {
    c = await dashboard(await userToken({ sub: uniq('user'), guilds: { [DEMO_GUILD]: Permission.ADMINISTRATOR } }));
    await nextDialect(c, 'welcome');
  });
  afterAll(() => c.close());

  it('answers a pool_request by _seq with seq, listing the unknown id as nonexistent', async () => {
    c.send({ _event: 'pool_request', type: 'member', guild_id: DEMO_GUILD, _seq: 7, ids: ['100000000000000002', '199999999999999999'] });
    const res = await nextDialect(c, 'pool_response', 7);
    expect(res).toMatchObject({ finished: true, nonexistent: ['199999999999999999'] });
    const [member] = res.data as Frame[];
    // The frontend's Member decoder: name, nick, discriminator (string), joined_at, roles.
    expect(member).toMatchObject({ id: '100000000000000002', name: 'Alicia', nick: 'Ali' });
    expect(typeof member!.discriminator).toBe('string');
    expect(Number.isNaN(Date.parse(member!.joined_at as string))).toBe(false);
    expect(Array.isArray(member!.roles)).toBe(true);
  });

  it('finishes a refused pool request too, with its ids nonexistent, beside a numeric error', async () => {
    c.send({ _event: 'pool_request', type: 'member', guild_id: OTHER_GUILD, _seq: 9, ids: ['100000000000000001'] });
    const error = await nextDialect(c, 'error', 9);
    expect(error).toMatchObject({ code: 403, details: 'forbidden' });
    expect(await nextDialect(c, 'pool_response', 9)).toMatchObject({ finished: true, data: [], nonexistent: ['100000000000000001'] });
  });

  it('streams the partial_guild pool with the per-user fields the sidebar decodes', async () => {
    c.send({ _event: 'pool_all_request', type: 'partial_guild', _seq: 11 });
    const chunks: Frame[] = [];
    do chunks.push(await nextDialect(c, 'pool_response', 11));
    while (chunks.at(-1)!.finished !== true);
    const guilds = chunks.flatMap((f) => f.data as Frame[]);
    expect(guilds.map((g) => g.id)).toEqual([DEMO_GUILD]);
    expect(guilds[0]).toMatchObject({ name: 'Architus Demo', has_architus: true, architus_admin: true });
    expect(typeof guilds[0]!.member_count).toBe('number');
  });

  it('serves auto_response per guild in the frontend shape', async () => {
    c.send({ _event: 'pool_all_request', type: 'auto_response', guild_id: DEMO_GUILD, _seq: 13 });
    const res = await nextDialect(c, 'pool_response', 13);
    expect(res.finished).toBe(true);
    for (const r of res.data as Frame[]) {
      expect(r).toMatchObject({ guild_id: DEMO_GUILD, trigger: expect.any(String), response: expect.any(String), trigger_regex: expect.any(String), count: expect.any(Number) });
    }
  });
});

describe('architus dashboard: spectate and pushes', () => {
  it('spectates with the bare guild id and receives log pushes flat, in the dialect', async () => {
    const c = await dashboard(await userToken({ sub: uniq('user'), guilds: { [DEMO_GUILD]: Permission.VIEW_PUBLIC_LOGS } }));
    await nextDialect(c, 'welcome');
    c.send({ _event: 'spectate', guild_id: DEMO_GUILD });
    await nextDialect(c, 'spectate');
    const id = '1749506853102735360';
    expect(await postLog(stack.monoliths[0]!, logEntry(DEMO_GUILD, id))).toBe(202);
    const push = await nextDialect(c, 'log_other');
    expect(push).toMatchObject({ id, guild_id: DEMO_GUILD, action_number: 1 });
    expect(push.data).toEqual({ note: id });
    c.close();
  });
});

describe('architus front page: the mock bot', () => {
  it('runs the auto-response demo script with the real bot answers', async () => {
    const c = await dashboard();
    await nextDialect(c, 'welcome');
    const allowed = ['set', 'remove'];
    const help = await say(c, 0, '!help', allowed);
    expect(help.guildId).toBe(MOCK);
    expect(actions(help)).toEqual([
      {
        action: 3001,
        messageId: expect.any(Number),
        content: '```set: set <trigger>::<response>\nSets an auto response.```\n```remove: remove <trigger>::<response>\nRemove an auto response.```\n',
      },
    ]);
    expect((actions(help)[0]!.messageId as number) % 2).toBe(1);
    expect(actions(await say(c, 2, "!set thanks::[you're welcome!,no problem!]", allowed))[0]).toMatchObject({
      action: 3001,
      content: "✅ `thanks::[you're welcome!,no problem!]` _successfully set_",
    });
    for (const id of [4, 6]) {
      expect(["you're welcome!", 'no problem!']).toContain(actions(await say(c, id, 'thanks', allowed))[0]!.content);
    }
    expect(actions(await say(c, 8, '!remove thanks', allowed))[0]).toMatchObject({ content: "✅ `thanks::[you're welcome!,no problem!]` _successfully removed_" });
    expect(actions(await say(c, 10, 'thanks', allowed))).toEqual([]);
    expect(actions(await say(c, 12, 'hello', allowed))).toEqual([]);
    // A silent set-up line acts but answers nothing; the response it set then fires.
    expect(actions(await say(c, 14, '!set hi::hey', allowed, true))).toEqual([]);
    expect(actions(await say(c, 16, 'hi', allowed))[0]).toMatchObject({ content: 'hey' });
    c.close();
  });

  it('runs the polls demo: schedule and xpoll with reaction buttons, edited as the visitor reacts', async () => {
    const c = await dashboard();
    await nextDialect(c, 'welcome');
    const allowed = ['poll', 'xpoll', 'schedule'];
    const schedule = actions(await say(c, 0, '!schedule cool event 12pm', allowed));
    expect(schedule[0]).toMatchObject({ action: 3001, content: expect.stringMatching(/^\*\*__cool event__\*\*\n\*\*Time:\*\* [A-Z][a-z]{2} \d{2} 12:00PM/) });
    expect(schedule.slice(1).map((a) => [a.action, a.emoji])).toEqual([
      [3100, '✅'],
      [3100, '❌'],
      [3100, '🤷'],
    ]);
    const poll = actions(await say(c, 2, '!xpoll "a hot dog is a:" sandwich, not a sandwich', allowed));
    const pollId = poll[0]!.messageId as number;
    expect(poll).toEqual([
      { action: 3001, messageId: pollId, content: '**__a hot dog is a:__**\n0⃣ **sandwich (0)**: \n1⃣ **not a sandwich (0)**: \n' },
      { action: 3100, messageId: pollId, emoji: '0⃣' },
      { action: 3100, messageId: pollId, emoji: '1⃣' },
    ]);
    expect(actions(await react(c, 3100, pollId, '0⃣'))).toEqual([
      { action: 3002, messageId: pollId, content: `**__a hot dog is a:__**\n0⃣ **sandwich (1)**: ${CLIENT_MENTION}\n1⃣ **not a sandwich (0)**: \n` },
    ]);
    // Exclusive: the other vote (and the visitor's reaction) is taken away.
    const switched = actions(await react(c, 3100, pollId, '1⃣'));
    expect(switched).toContainEqual({ action: 3101, messageId: pollId, emoji: '0⃣', targetsUser: true });
    expect(switched).toContainEqual({ action: 3002, messageId: pollId, content: `**__a hot dog is a:__**\n0⃣ **sandwich (0)**: \n1⃣ **not a sandwich (1)**: ${CLIENT_MENTION}\n` });
    c.close();
  });

  it('keeps two visitors who picked the same mock guild id apart', async () => {
    const [a, b] = [await dashboard(), await dashboard()];
    await Promise.all([nextDialect(a, 'welcome'), nextDialect(b, 'welcome')]);
    await say(a, 0, '!set secret::only for a', ['set']);
    expect(actions(await say(a, 2, 'secret', ['set']))[0]).toMatchObject({ content: 'only for a' });
    expect(actions(await say(b, 0, 'secret', ['set']))).toEqual([]);
    a.close();
    b.close();
  });

  it("gives a guest nothing of a real guild through the mock bot: a numeric 403, no bot event", async () => {
    const c = await dashboard();
    await nextDialect(c, 'welcome');
    // The demo guild has auto responses (the fixture's), and `!help` would list commands: neither comes back.
    c.send({ _event: 'ping', action: 3001, guildId: Number(DEMO_GUILD), messageId: 0, content: '!help', silent: false, allowedCommands: ['set'] });
    expect(await nextDialect(c, 'error')).toMatchObject({ code: 403, details: 'forbidden' });
    c.send({ _event: 'ping', action: 3001, guildId: MOCK, messageId: 2, content: 'hello', silent: false, allowedCommands: [] });
    const next = await nextDialect(c, 'mock_bot_event');
    expect(next.guildId).toBe(MOCK);
    // Answers come in request order: the only bot event is the mock guild's, after the refusal.
    const events = c.received.map((m) => (m as Frame)._event).filter((e) => e === 'error' || e === 'mock_bot_event');
    expect(events).toEqual(['error', 'mock_bot_event']);
    c.close();
  });
});
