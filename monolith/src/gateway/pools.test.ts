import { describe, expect, it } from 'vitest';
import { Permission, POOL_REQUEST_MAX_IDS, type TokenClaims } from '@gateway/protocol';
import { createLog } from '@gateway/server-kit';
import { Hub } from '../hub/hub.js';
import { MemoryBroker } from '../hub/memory-broker.js';
import { routingFor } from '../hub/routing.js';
import { Channels } from '../rooms/channels.js';
import type { LinkPeer } from '../rooms/links.js';
import { Rooms, type Conn } from '../rooms/rooms.js';
import { MemoryStore } from '../store/memory-store.js';
import { StoreInputError, type EntityStore } from '../store/store.js';
import { Gateway } from './gateway.js';
import { POOL_CHUNK, registerPools } from './pools.js';

// The pool handlers on real Rooms and Gateway over the memory store: every request is answered
// synchronously enough that all of its frames are in `frames` once `settled` resolves.

const G = '111111111111111111';
const G2 = '333333333333333333';
const OTHER = '222222222222222222';
const NOT_BOT = '444444444444444444';
const policy = { HISTORY_ROOM_SIZE: 10, HISTORY_ROOM_TTL_S: 60, HISTORY_USER_SIZE: 10, HISTORY_USER_TTL_S: 60, HISTORY_GUILD_SIZE: 10, HISTORY_GUILD_TTL_S: 60, HISTORY_LOGS_SIZE: 10, HISTORY_LOGS_TTL_S: 60 };

type Message = Record<string, unknown> & { event: string; _id?: string; data?: Record<string, unknown> & { data?: Array<Record<string, unknown>>; nonexistent?: string[]; finished?: boolean } };

function setup(store: EntityStore = new MemoryStore()) {
  const log = createLog('test', 'error');
  const hub = new Hub(new MemoryBroker(), new Channels(), routingFor(policy), { windowSize: 10, maxReplay: 10, log });
  const rooms = new Rooms({ ownership: { loaded() {}, unloaded() {} }, streams: hub, graceMs: 0 });
  const gateway = new Gateway(rooms, log, { maxDepth: 32 });
  registerPools(gateway, store);
  const messages: Message[] = [];
  const link: LinkPeer = { id: 'b1', send: (f) => void messages.push((JSON.parse(f) as { message: Message }).message) };
  let n = 0;
  const join = (claims: TokenClaims) => rooms.join(link, `c${++n}`, 'lobby', `tok${n}`, claims, String(claims.sub ?? claims.jti), claims.guest === true);
  /** Sends a request and resolves with every frame answering it, once the final chunk (or a lone error) came. */
  const ask = async (conn: Conn, event: string, data: unknown): Promise<Message[]> => {
    const id = `r${++n}`;
    gateway.handle(conn, { event, _id: id, data });
    const mine = () => messages.filter((m) => m._id === id);
    for (let i = 0; i < 1000 && !mine().some((m) => m.data?.finished === true || (m.event === 'error' && (data === null || typeof data !== 'object'))); i++) await new Promise((r) => setImmediate(r));
    return mine();
  };
  return { store, join, ask };
}

const member = { sub: 'bob', guilds: { [G]: 0 } } satisfies TokenClaims;

describe('refused pool requests still finish', () => {
  it('forbidden, missing guild_id and invalid requests: the error, then an empty finished chunk naming the code', async () => {
    const t = setup();
    const conn = t.join({ sub: 'alice', guilds: { [OTHER]: 0 } });
    const cases: Array<[string, unknown, string, string[]]> = [
      ['pool_request', { type: 'member', guild_id: G, ids: ['1234567', '7654321'] }, 'forbidden', ['1234567', '7654321']],
      ['pool_all_request', { type: 'member', guild_id: G }, 'forbidden', []],
      ['pool_search_request', { type: 'member', guild_id: G, query: 'a' }, 'forbidden', []],
      ['pool_request', { type: 'channel', ids: ['1234567'] }, 'bad_request', ['1234567']],
      // Invalid, but type and ids can be read: a pool name this protocol does not have, a bad guild id.
      ['pool_request', { type: 'partial_guild', ids: ['1234567', 5] }, 'bad_request', ['1234567']],
      ['pool_all_request', { type: 'member', guild_id: 'abc' }, 'bad_request', []],
      ['pool_search_request', { type: 'user', guild_id: G, query: 'x'.repeat(101) }, 'bad_request', []],
    ];
    for (const [event, data, code, nonexistent] of cases) {
      const frames = await t.ask(conn, event, data);
      const d = data as { type: string; guild_id?: string };
      expect(frames, `${event} ${JSON.stringify(data)}`).toEqual([
        expect.objectContaining({ event: 'error', code }),
        { event: 'pool_response', _id: expect.any(String), data: { type: d.type, guild_id: /^[0-9]+$/.test(d.guild_id ?? '') ? d.guild_id : null, data: [], nonexistent, finished: true, error: code } },
      ]);
    }
  });

  it('answers only the error when the type (or a pool_request\'s ids) cannot be read', async () => {
    const t = setup();
    const conn = t.join(member);
    for (const data of [null, 'member', { ids: ['1'] }, { type: 7 }, { type: 'member', guild_id: G }]) {
      const frames = await t.ask(conn, 'pool_request', data);
      expect(frames.map((f) => [f.event, f.code]), JSON.stringify(data)).toEqual([['error', 'bad_request']]);
    }
  });

  it('a store failure: the error (internal, or the catalogued code a StoreInputError carries), then the final chunk', async () => {
    const memory = new MemoryStore();
    const failing: EntityStore = Object.assign(Object.create(memory) as EntityStore, {
      get: async () => {
        throw new Error('redis down');
      },
      page: async () => {
        throw new StoreInputError('malformed cursor');
      },
    });
    const t = setup(failing);
    const conn = t.join(member);
    expect(await t.ask(conn, 'pool_request', { type: 'member', guild_id: G, ids: ['1234567'] })).toEqual([
      expect.objectContaining({ event: 'error', code: 'internal', message: 'internal error' }),
      expect.objectContaining({ event: 'pool_response', data: expect.objectContaining({ data: [], nonexistent: ['1234567'], finished: true, error: 'internal' }) }),
    ]);
    expect(await t.ask(conn, 'pool_all_request', { type: 'member', guild_id: G, cursor: 'bad' })).toEqual([
      expect.objectContaining({ event: 'error', code: 'bad_request', message: 'malformed cursor' }),
      expect.objectContaining({ event: 'pool_response', data: expect.objectContaining({ nonexistent: [], finished: true, error: 'bad_request' }) }),
    ]);
  });
});

describe('pool_request in chunks', () => {
  it(`answers 1,234 ids in chunks of ${POOL_CHUNK}, only the last finished, every id found or nonexistent once`, async () => {
    const t = setup();
    const stored = Array.from({ length: 700 }, (_, i) => ({ id: String(5_000_000 + i * 2), name: `m${i}` }));
    await t.store.putMany('member', G, stored);
    const ids = Array.from({ length: 1234 }, (_, i) => String(5_000_000 + i));
    const frames = await t.ask(t.join(member), 'pool_request', { type: 'member', guild_id: G, ids });
    expect(frames.map((f) => [f.event, (f.data!.data!.length + f.data!.nonexistent!.length), f.data!.finished])).toEqual([
      ['pool_response', 500, false],
      ['pool_response', 500, false],
      ['pool_response', 234, true],
    ]);
    const found = frames.flatMap((f) => f.data!.data!.map((e) => e.id as string));
    expect(found).toEqual(ids.filter((id) => Number(id) % 2 === 0));
    expect(frames.flatMap((f) => f.data!.nonexistent!)).toEqual(ids.filter((id) => Number(id) % 2 === 1));
  });

  it('answers an empty request with one finished chunk, and refuses more than the cap, still finishing', async () => {
    const t = setup();
    const conn = t.join(member);
    expect(await t.ask(conn, 'pool_request', { type: 'member', guild_id: G, ids: [] })).toEqual([
      expect.objectContaining({ data: { type: 'member', guild_id: G, data: [], nonexistent: [], finished: true } }),
    ]);
    const ids = Array.from({ length: POOL_REQUEST_MAX_IDS + 1 }, (_, i) => String(1_000_000 + i));
    const frames = await t.ask(conn, 'pool_request', { type: 'member', guild_id: G, ids });
    expect(frames.map((f) => [f.event, f.code ?? f.data!.error])).toEqual([
      ['error', 'bad_request'],
      ['pool_response', 'bad_request'],
    ]);
    expect(frames[1]!.data!.nonexistent).toEqual(ids.slice(0, POOL_REQUEST_MAX_IDS));
  });
});

describe('the guild pool per user', () => {
  async function guilds() {
    const t = setup();
    await t.store.putMany('guild', undefined, [
      { id: G, name: 'Admin here', icon: 'abc', member_count: 10, features: ['STORED'] },
      { id: G2, name: 'Plain member', member_count: 5, has_architus: false, owner: true },
      { id: OTHER, name: 'Not mine', member_count: 7 },
    ]);
    await t.store.putUserGuilds('alice', [
      { id: NOT_BOT, name: 'Invite me', icon: null, owner: true, permissions: 0x20, features: [] },
      { id: G, name: 'Admin here (Discord)', icon: 'abc', owner: true, permissions: 8, features: ['COMMUNITY'] },
    ]);
    return t;
  }
  const alice: TokenClaims = { sub: 'alice', guilds: { [G]: Permission.ADMINISTRATOR, [G2]: Permission.VIEW_PUBLIC_LOGS } };
  const inG = { id: G, name: 'Admin here', icon: 'abc', member_count: 10, has_architus: true, architus_admin: true, owner: true, permissions: 8, features: ['COMMUNITY'] };
  const inG2 = { id: G2, name: 'Plain member', member_count: 5, has_architus: true, architus_admin: false, owner: false, permissions: 0, features: [] };
  const notBot = { id: NOT_BOT, name: 'Invite me', icon: null, owner: true, permissions: 0x20, features: [], has_architus: false, architus_admin: false, member_count: 0 };

  it("by ids: stored guilds with the caller's fields, its listed guilds without architus, the rest nonexistent", async () => {
    const t = await guilds();
    const [reply, ...more] = await t.ask(t.join(alice), 'pool_request', { type: 'guild', ids: [G2, OTHER, NOT_BOT, G, '5555555555'] });
    expect(more).toEqual([]);
    expect(reply!.data).toEqual({ type: 'guild', guild_id: null, data: [inG2, inG, notBot], nonexistent: [OTHER, '5555555555'], finished: true });
  });

  it('all: the same, stored ones first, in one finished stream', async () => {
    const t = await guilds();
    const frames = await t.ask(t.join(alice), 'pool_all_request', { type: 'guild' });
    expect(frames.map((f) => f.data!.finished)).toEqual([true]);
    expect(frames[0]!.data!.data).toEqual([inG, inG2, notBot]);
  });

  it("a listed guild the token does not name is visible to its user only; no list, no extra guilds; admin sees all", async () => {
    const t = await guilds();
    await t.store.putUserGuilds('carol', [{ id: OTHER, name: 'Not mine', icon: null, owner: false, permissions: 0, features: [] }]);
    const carol = (await t.ask(t.join({ sub: 'carol' }), 'pool_request', { type: 'guild', ids: [OTHER, NOT_BOT] }))[0]!.data!;
    expect(carol.data).toEqual([expect.objectContaining({ id: OTHER, has_architus: true, architus_admin: false, member_count: 7 })]);
    expect(carol.nonexistent).toEqual([NOT_BOT]);
    const dave = (await t.ask(t.join({ sub: 'dave', guilds: { [G2]: 0 } }), 'pool_all_request', { type: 'guild' }))[0]!.data!;
    expect(dave.data).toEqual([{ ...inG2 }]);
    // A guest's subject is its jti: a list put for that id is not a guest's.
    await t.store.putUserGuilds('g1', [{ id: NOT_BOT, name: 'x', icon: null, owner: false, permissions: 0, features: [] }]);
    const guest = (await t.ask(t.join({ guest: true, jti: 'g1' }), 'pool_request', { type: 'guild', ids: [NOT_BOT] }))[0]!.data!;
    expect([guest.data, guest.nonexistent]).toEqual([[], [NOT_BOT]]);
    const root = (await t.ask(t.join({ sub: 'root', admin: true }), 'pool_all_request', { type: 'guild' }))[0]!.data!;
    expect(root.data!.map((g) => [g.id, g.architus_admin])).toEqual([
      [G, true],
      [OTHER, true],
      [G2, true],
    ]);
  });
});

describe('the guild pool streamed to a caller without admin', () => {
  // 5,000 stored guilds; the caller's token names 1,200 of them (every fourth), its Discord list
  // one more stored guild and one the bot is not in.
  const stored = Array.from({ length: 5000 }, (_, i) => ({ id: String(100_000_000_000_000_000n + BigInt(i)), name: `g${i}` }));
  const named = stored.filter((_, i) => i % 4 === 0).slice(0, 1200);
  const listedStored = stored[4001]!;
  async function big() {
    const memory = new MemoryStore();
    const calls = { page: 0, get: 0 };
    const counting: EntityStore = Object.assign(Object.create(memory) as EntityStore, {
      page: (...a: Parameters<EntityStore['page']>) => (calls.page++, memory.page(...a)),
      get: (...a: Parameters<EntityStore['get']>) => (calls.get++, memory.get(...a)),
    });
    await memory.putMany('guild', undefined, stored);
    await memory.putUserGuilds('erin', [
      { id: NOT_BOT, name: 'Invite me', icon: null, owner: true, permissions: 0x20, features: [] },
      { id: listedStored.id, name: 'Listed', icon: null, owner: false, permissions: 0, features: [] },
    ]);
    const t = setup(counting);
    const erin = t.join({ sub: 'erin', guilds: Object.fromEntries(named.map((g) => [g.id, 0])) });
    return { t, calls, erin };
  }
  const visible = [...named, listedStored].sort((a, b) => (a.id < b.id ? -1 : 1)).map((g) => g.id);

  it('looks up only its guilds (chunks of its ids, no walk of the pool), listed ones without architus last', async () => {
    const { t, calls, erin } = await big();
    const frames = await t.ask(erin, 'pool_all_request', { type: 'guild' });
    expect(frames.map((f) => [f.data!.data!.length, f.data!.finished])).toEqual([
      [500, false],
      [500, false],
      [202, true],
    ]);
    expect(frames.flatMap((f) => f.data!.data!.map((g) => g.id))).toEqual([...visible, NOT_BOT]);
    expect(frames.at(-1)!.data!.data!.at(-1)).toMatchObject({ id: NOT_BOT, has_architus: false });
    expect(calls.page).toBe(0);
    // A guest is refused before any lookup; an admin walks the pool.
    expect((await t.ask(t.join({ guest: true, jti: 'g9' }), 'pool_all_request', { type: 'guild' })).map((f) => f.code ?? f.data!.error)).toEqual(['forbidden', 'forbidden']);
    const root = await t.ask(t.join({ sub: 'root', admin: true }), 'pool_all_request', { type: 'guild' });
    expect(root.flatMap((f) => f.data!.data!).length).toBe(5000);
    expect(calls.page).toBe(10);
  });

  it('stops at limit with a cursor that resumes after the last guild sent', async () => {
    const { t, erin } = await big();
    const first = await t.ask(erin, 'pool_all_request', { type: 'guild', limit: 700 });
    expect(first.map((f) => [f.data!.data!.length, f.data!.finished])).toEqual([
      [500, false],
      [200, true],
    ]);
    const cursor = first.at(-1)!.data!.cursor as string;
    expect(typeof cursor).toBe('string');
    const rest = await t.ask(erin, 'pool_all_request', { type: 'guild', cursor });
    expect(rest.at(-1)!.data).toMatchObject({ finished: true, cursor: null });
    expect([...first, ...rest].flatMap((f) => f.data!.data!.map((g) => g.id))).toEqual([...visible, NOT_BOT]);
  });
});

describe('global pools and guests', () => {
  it('refuses user (all, search, by ids) and streamed or searched guild to minted and tokenless guests, still finishing', async () => {
    const t = setup();
    await t.store.putMany('user', undefined, [{ id: '5555555', username: 'realuser', avatar: 'a' }]);
    await t.store.putMany('guild', undefined, [{ id: G, name: 'Mine' }]);
    const cases: Array<[string, Record<string, unknown>, string[]]> = [
      ['pool_all_request', { type: 'user' }, []],
      ['pool_all_request', { type: 'guild' }, []],
      ['pool_search_request', { type: 'user', guild_id: G, query: 'real' }, []],
      ['pool_search_request', { type: 'guild', guild_id: G, query: 'm' }, []],
      ['pool_request', { type: 'user', ids: ['5555555'] }, ['5555555']],
    ];
    for (const claims of [{ guest: true, jti: 'minted' }, { guest: true, jti: 'anon.c1' }, { guest: true, jti: 'g3', guilds: { [G]: 0 } }] satisfies TokenClaims[]) {
      const guest = t.join(claims);
      for (const [event, data, nonexistent] of cases) {
        expect(await t.ask(guest, event, data), `${event} ${JSON.stringify(data)}`).toEqual([
          expect.objectContaining({ event: 'error', code: 'forbidden' }),
          expect.objectContaining({ event: 'pool_response', data: expect.objectContaining({ data: [], nonexistent, finished: true, error: 'forbidden' }) }),
        ]);
      }
    }
    // A guest's guilds by id stay open (its token's only); a user reads the user pool.
    const guest = t.join({ guest: true, jti: 'g4', guilds: { [G]: 0 } });
    expect((await t.ask(guest, 'pool_request', { type: 'guild', ids: [G] }))[0]!.data).toMatchObject({ data: [{ id: G }], finished: true });
    const bob = t.join(member);
    expect((await t.ask(bob, 'pool_all_request', { type: 'user' }))[0]!.data).toMatchObject({ data: [{ id: '5555555', username: 'realuser' }], finished: true });
    expect((await t.ask(bob, 'pool_request', { type: 'user', ids: ['5555555'] }))[0]!.data).toMatchObject({ data: [{ id: '5555555' }] });
  });
});
