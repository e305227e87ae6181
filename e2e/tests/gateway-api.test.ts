import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '@gateway/protocol';
import { adminToken, connect, guestToken, startStack, uniq, useHarness, userToken, type Stack, type TestClient } from '../harness/index.js';

useHarness();

// The demo fixture (monolith/src/store/fixture.ts), loaded by DEMO_FIXTURE=true.
const GUILD = '1234567890';
const OTHER_GUILD = '2345678901';
/** The mock bot's guild (fixture MOCK_GUILD_ID): mock ids are below 10^7, open to guests. */
const MOCK_GUILD = '1000000';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ monoliths: 1, balancers: 2, redis: true, monolithEnv: { DEMO_FIXTURE: 'true', INTERPRET_RATE: '2', INTERPRET_BURST: '3' } });
});
afterAll(async () => {
  await stack?.stop();
});

async function user(balancer = 0, guilds: Record<string, number> = { [GUILD]: 0 }, sub = uniq('u')): Promise<TestClient> {
  const c = await connect(stack.balancers[balancer]!.url());
  await c.auth(await userToken({ sub, guilds }));
  return c;
}

async function post(path: string, body: unknown, token?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${stack.monoliths[0]!.http}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body ?? {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

type Entity = { id: string; name?: string; nick?: string };

describe('pools', () => {
  it('answers pool_request with found entities and the nonexistent ids', async () => {
    const c = await user();
    const all = await c.request('pool_all_request', 1, { type: 'member', guild_id: GUILD });
    const known = (all.data as { data: Entity[] }).data.slice(0, 2).map((e) => e.id);
    const reply = await c.request('pool_request', 2, { type: 'member', guild_id: GUILD, ids: [...known, '999999999999'] });
    expect(reply).toMatchObject({ event: 'pool_response', _id: 2, data: { finished: true, nonexistent: ['999999999999'] } });
    expect((reply.data as { data: Entity[] }).data.map((e) => e.id)).toEqual(known);
    c.close();
  });

  it('streams a pool larger than one chunk, ending with finished, resumable by cursor', async () => {
    const c = await user();
    c.send({ event: 'pool_all_request', _id: 'all', data: { type: 'member', guild_id: GUILD } });
    const chunks: Array<{ data: Entity[]; finished: boolean; cursor: string | null }> = [];
    for (;;) {
      const chunk = (await c.next((m) => m._id === 'all')).data as (typeof chunks)[number];
      chunks.push(chunk);
      if (chunk.finished) break;
    }
    expect(chunks.length).toBeGreaterThan(1);
    const ids = chunks.flatMap((ch) => ch.data.map((e) => e.id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThan(1000);
    // Resuming from the first chunk's cursor yields exactly the rest.
    c.send({ event: 'pool_all_request', _id: 'rest', data: { type: 'member', guild_id: GUILD, cursor: chunks[0]!.cursor } });
    const rest: string[] = [];
    for (;;) {
      const chunk = (await c.next((m) => m._id === 'rest')).data as (typeof chunks)[number];
      rest.push(...chunk.data.map((e) => e.id));
      if (chunk.finished) break;
    }
    expect(rest).toEqual(ids.slice(chunks[0]!.data.length));
    c.close();
  });

  it('stops a pool stream at its limit, finished, with the cursor to go on from', async () => {
    const c = await user();
    const first = await c.request('pool_all_request', 'lim', { type: 'member', guild_id: GUILD, limit: 50 });
    const chunk = first.data as { data: Entity[]; finished: boolean; cursor: string | null };
    expect(chunk.finished).toBe(true);
    expect(chunk.data).toHaveLength(50);
    expect(chunk.cursor).not.toBeNull();
    // Nothing more comes for that request: a ping after it is answered first.
    expect(await c.request('ping', 'after')).toMatchObject({ event: 'pong' });
    expect(c.received.filter((m) => m._id === 'lim')).toHaveLength(1);
    const next = await c.request('pool_all_request', 'lim2', { type: 'member', guild_id: GUILD, cursor: chunk.cursor, limit: 10 });
    const ids = (next.data as { data: Entity[] }).data.map((e) => e.id);
    expect(ids).toHaveLength(10);
    expect(ids.some((id) => chunk.data.some((e) => e.id === id))).toBe(false);
    c.close();
  });

  it('searches members by case-insensitive prefix of name or nick', async () => {
    const c = await user();
    const reply = await c.request('pool_search_request', 1, { type: 'member', guild_id: GUILD, query: 'ALI', limit: 50 });
    const names = (reply.data as { data: Entity[] }).data.map((e) => (e.name ?? '').toLowerCase());
    expect(names).toEqual(expect.arrayContaining(['alice', 'alicia']));
    for (const e of (reply.data as { data: Entity[] }).data) {
      expect([e.name, e.nick].some((n) => n?.toLowerCase().startsWith('ali'))).toBe(true);
    }
    const zed = await c.request('pool_search_request', 2, { type: 'member', guild_id: GUILD, query: 'zed' });
    expect((zed.data as { data: Entity[] }).data.some((e) => e.nick === 'Zed')).toBe(true);
    c.close();
  });

  it('refuses guild pools of guilds not in the token and hides other guilds', async () => {
    const c = await user(0, { [GUILD]: 0 });
    expect(await c.request('pool_request', 1, { type: 'member', guild_id: OTHER_GUILD, ids: ['1'] })).toMatchObject({ event: 'error', code: 'forbidden' });
    // The refusal still finishes the request, for clients that wait for `finished`.
    expect(await c.next((m) => m._id === 1 && m.event === 'pool_response')).toMatchObject({ data: { data: [], nonexistent: ['1'], finished: true, error: 'forbidden' } });
    expect(await c.request('pool_request', 2, { type: 'member', ids: ['1'] })).toMatchObject({ event: 'error', code: 'bad_request' });
    const guilds = await c.request('pool_request', 3, { type: 'guild', ids: [GUILD, OTHER_GUILD] });
    expect((guilds.data as { data: Entity[] }).data.map((g) => g.id)).toEqual([GUILD]);
    expect((guilds.data as { nonexistent: string[] }).nonexistent).toEqual([OTHER_GUILD]);
    c.close();
  });

  it('answers more than 1,000 ids in chunks, the last finished, and gives the demo guild its per-user fields', async () => {
    const c = await user(0, { [GUILD]: 1 });
    const ids = Array.from({ length: 1200 }, (_, i) => String(200000000000000000n + BigInt(i)));
    c.send({ event: 'pool_request', _id: 'big', data: { type: 'member', guild_id: GUILD, ids } });
    const chunks: Array<{ data: Entity[]; nonexistent: string[]; finished: boolean }> = [];
    while (!chunks.at(-1)?.finished) chunks.push((await c.next((m) => m._id === 'big' && m.event === 'pool_response')).data as (typeof chunks)[number]);
    expect(chunks.map((ch) => ch.finished)).toEqual([false, false, true]);
    expect(chunks.flatMap((ch) => [...ch.data.map((e) => e.id), ...ch.nonexistent]).sort()).toEqual(ids);
    const guild = await c.request('pool_request', 'g', { type: 'guild', ids: [GUILD] });
    expect((guild.data as { data: unknown[] }).data).toEqual([expect.objectContaining({ id: GUILD, name: 'Architus Demo', has_architus: true, architus_admin: true, permissions: 0, owner: false, features: [] })]);
    c.close();
  });
});

describe('interpret', () => {
  it('lets a guest talk to the mock bot on the mock guild, which never shows the stored auto responses', async () => {
    const c = await connect(stack.balancers[0]!.url());
    await c.auth(await guestToken());
    expect(await c.request('interpret', 1, { guild_id: MOCK_GUILD, message_id: '100', content: 'hello everyone' })).toMatchObject({ event: 'interpret', data: null });
    const echo = await c.request('interpret', 2, { guild_id: MOCK_GUILD, message_id: '102', content: '!echo ping', allowed_commands: ['echo'] });
    expect(echo.data).toMatchObject({ content: 'ping' });
    c.close();
  });

  it('rate-limits a flood of interpret on one connection without affecting another', async () => {
    const flooder = await user();
    const other = await user(1);
    for (let i = 0; i < 10; i++) flooder.send({ event: 'interpret', _id: i, data: { guild_id: GUILD, message_id: String(300 + i), content: 'hello' } });
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => flooder.next((m) => m._id === i)));
    expect(replies.filter((m) => m.event === 'error' && m.code === 'rate_limited').length).toBeGreaterThanOrEqual(5);
    expect(await other.request('interpret', 1, { guild_id: GUILD, message_id: '400', content: 'hello' })).toMatchObject({ event: 'interpret' });
    expect(await flooder.request('ping', 'p')).toMatchObject({ event: 'pong' });
    flooder.close();
    other.close();
  });
});

describe('elevation and tokens', () => {
  it('elevates a guest to a user without reconnecting, who can then spectate', async () => {
    const { json } = await post('/api/tokens/guest', {});
    const c = await connect(stack.balancers[0]!.url());
    const guestWelcome = await c.auth(json.token as string);
    expect((guestWelcome.data as { room: string }).room).toMatch(/^guest:/);
    expect(await c.request('spectate', 1, { guild_id: GUILD })).toMatchObject({ event: 'error', code: 'forbidden' });
    expect(await c.request('request_elevation', 2, { token: 'garbage' })).toMatchObject({ data: { result: false } });
    expect(await c.request('ping', 3)).toMatchObject({ event: 'pong' });
    const sub = uniq('elevated');
    expect(await c.request('request_elevation', 4, { token: await userToken({ sub, guilds: { [GUILD]: 0 } }) })).toMatchObject({ data: { result: true } });
    expect((await c.nextEvent('welcome')).data).toMatchObject({ room: `user:${sub}`, user: { id: sub, guest: false } });
    expect(await c.request('spectate', 5, { guild_id: GUILD })).toMatchObject({ event: 'spectate' });
    c.close();
  });

  it('trades a primary token for a websocket token that opens one session only', async () => {
    const primary = await userToken({ sub: uniq('p'), guilds: { [GUILD]: 0 } });
    expect((await post('/api/tokens/ws', {})).status).toBe(401);
    const { status, json } = await post('/api/tokens/ws', {}, primary);
    expect(status).toBe(200);
    expect(json.expires_in).toBe(60);
    const first = await connect(stack.balancers[0]!.url());
    await first.auth(json.token as string);
    expect(await first.request('ping', 1)).toMatchObject({ event: 'pong' });
    const replay = await connect(stack.balancers[1]!.url());
    replay.send({ action: 'auth', token: json.token });
    expect((await replay.closed()).code).toBe(CloseCode.TOKEN_INVALID);
    expect(await first.request('ping', 2)).toMatchObject({ event: 'pong' });
    first.close();
  });

  it('delivers POST /api/users/:id/messages to every socket of that user on every balancer', async () => {
    const sub = uniq('multi');
    const a = await user(0, { [GUILD]: 0 }, sub);
    const b = await user(1, { [GUILD]: 0 }, sub);
    const stranger = await user(1);
    expect((await post(`/api/users/${sub}/messages`, { event: 'note', data: { text: 'hi' } })).status).toBe(401);
    expect((await post(`/api/users/${sub}/messages`, { event: 'note', data: { text: 'hi' } }, await userToken())).status).toBe(403);
    expect((await post(`/api/users/${sub}/messages`, { event: 'note', data: { text: 'hi' } }, await adminToken())).status).toBe(202);
    for (const c of [a, b]) expect(await c.nextEvent('note')).toMatchObject({ data: { text: 'hi' } });
    expect(await stranger.request('ping', 1)).toMatchObject({ event: 'pong' });
    expect(stranger.received.some((m) => m.event === 'note')).toBe(false);
    for (const c of [a, b, stranger]) c.close();
  });
});

describe('bad pool input', () => {
  it('answers a garbage cursor with bad_request, not an internal error', async () => {
    const c = await user();
    expect(await c.request('pool_all_request', 1, { type: 'member', guild_id: GUILD, cursor: '!!!not-a-cursor' })).toMatchObject({ event: 'error', code: 'bad_request' });
    expect(await c.request('ping', 2)).toMatchObject({ event: 'pong' });
    c.close();
  });
});
