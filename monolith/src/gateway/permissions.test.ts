import { describe, expect, it } from 'vitest';
import { Permission, guildLogsStream, guildStream, type TokenClaims } from '@gateway/protocol';
import { createLog } from '@gateway/server-kit';
import { Hub } from '../hub/hub.js';
import { MemoryBroker } from '../hub/memory-broker.js';
import { routingFor } from '../hub/routing.js';
import { Channels } from '../rooms/channels.js';
import type { LinkPeer } from '../rooms/links.js';
import { Rooms, type Conn } from '../rooms/rooms.js';
import { MemoryStore } from '../store/memory-store.js';
import { waitFor } from '../../../testing/wait.js';
import type { Admission } from './admission.js';
import { Gateway } from './gateway.js';
import { registerPools } from './pools.js';
import { registerSpectate } from './spectate.js';

// spectate and pool permissions with real Rooms, Channels and Hub on the MemoryBroker and the
// memory store: what a token may see is read from the link frames the connection gets.

const G = '111111111111111111';
const OTHER = '222222222222222222';
const policy = { HISTORY_ROOM_SIZE: 100, HISTORY_ROOM_TTL_S: 300, HISTORY_USER_SIZE: 100, HISTORY_USER_TTL_S: 300, HISTORY_GUILD_SIZE: 100, HISTORY_GUILD_TTL_S: 300, HISTORY_LOGS_SIZE: 100, HISTORY_LOGS_TTL_S: 300 };

type Frame = Record<string, unknown> & { type: string };

function setup() {
  const log = createLog('test', 'error');
  const channels = new Channels();
  const hub = new Hub(new MemoryBroker(), channels, routingFor(policy), { windowSize: 100, maxReplay: 100, log });
  const rooms = new Rooms({ ownership: { loaded() {}, unloaded() {} }, streams: hub, graceMs: 0 });
  const gateway = new Gateway(rooms, log, { maxDepth: 32 });
  const claimsListeners: Array<(conn: Conn) => void> = [];
  // registerSpectate only subscribes to claim changes; the test fires them as Admission would.
  const admission = { onClaimsChanged: (l: (conn: Conn) => void) => void claimsListeners.push(l) } as unknown as Admission;
  const store = new MemoryStore();
  registerSpectate(gateway, rooms, channels, hub, admission);
  registerPools(gateway, store);
  const frames: Frame[] = [];
  const link: LinkPeer = { id: 'b1', send: (f) => void frames.push(JSON.parse(f) as Frame) };
  let n = 0;
  const join = (claims: TokenClaims) => rooms.join(link, `c${++n}`, 'lobby', `tok${n}`, claims, String(claims.sub), false);
  /** Sends a request and resolves with the reply or error carrying its `_id`. */
  const ask = async (conn: Conn, event: string, data: unknown) => {
    const id = `r${++n}`;
    gateway.handle(conn, { event, _id: id, data });
    return waitFor(() => frames.find((f) => f.type === 'unicast' && f.id === conn.id && (f.message as { _id?: string })._id === id)?.message as Record<string, unknown> | undefined, {
      timeoutMs: 2000,
      intervalMs: 2,
      what: `${event} reply`,
    });
  };
  const subscriptions = (conn: Conn) => frames.filter((f) => f.type === 'subscribe' && f.id === conn.id).map((f) => f.channel);
  const unsubscriptions = (conn: Conn) => frames.filter((f) => f.type === 'unsubscribe' && f.id === conn.id).map((f) => f.channel);
  const changeClaims = (conn: Conn, claims: TokenClaims) => {
    conn.claims = claims;
    for (const l of claimsListeners) l(conn);
  };
  return { hub, channels, store, frames, join, ask, subscriptions, unsubscriptions, changeClaims };
}

const logEntry = (priv: boolean) => JSON.stringify({ event: 'log_other', data: { id: '1', guild_id: G, private: priv } });

describe('spectate permissions', () => {
  it('refuses a guild not in the token (forbidden), joining no channel and holding no stream', async () => {
    const t = setup();
    const conn = t.join({ sub: 'alice', guilds: { [OTHER]: 0 } });
    expect(await t.ask(conn, 'spectate', { guild_id: G })).toMatchObject({ event: 'error', code: 'forbidden' });
    expect(t.subscriptions(conn)).toEqual([]);
    expect(t.hub.counts().has(guildStream(G))).toBe(false);
  });

  it('refuses include_logs without VIEW_PUBLIC_LOGS, and gives only the guild channel without logs', async () => {
    const t = setup();
    const conn = t.join({ sub: 'alice', guilds: { [G]: 0 } });
    expect(await t.ask(conn, 'spectate', { guild_id: G, include_logs: true })).toMatchObject({ event: 'error', code: 'forbidden', message: 'viewing logs needs VIEW_PUBLIC_LOGS' });
    expect(t.subscriptions(conn)).toEqual([]);
    expect(await t.ask(conn, 'spectate', { guild_id: G })).toMatchObject({ event: 'spectate', data: { channels: [`guild:${G}`], streams: [guildStream(G)] } });
    expect(t.subscriptions(conn)).toEqual([`guild:${G}`]);
  });

  it('public logs only with VIEW_PUBLIC_LOGS; private logs also with VIEW_PRIVATE_LOGS, ADMINISTRATOR or admin', async () => {
    const t = setup();
    const cases: Array<[TokenClaims, string[]]> = [
      [{ sub: 'p', guilds: { [G]: Permission.VIEW_PUBLIC_LOGS } }, [`guild:${G}`, `guild:${G}:logs`]],
      [{ sub: 'q', guilds: { [G]: Permission.VIEW_PUBLIC_LOGS | Permission.VIEW_PRIVATE_LOGS } }, [`guild:${G}`, `guild:${G}:logs`, `guild:${G}:logs:private`]],
      [{ sub: 'r', guilds: { [G]: Permission.ADMINISTRATOR } }, [`guild:${G}`, `guild:${G}:logs`, `guild:${G}:logs:private`]],
      [{ sub: 's', admin: true }, [`guild:${G}`, `guild:${G}:logs`, `guild:${G}:logs:private`]],
    ];
    for (const [claims, channels] of cases) {
      const conn = t.join(claims);
      expect(await t.ask(conn, 'spectate', { guild_id: G, include_logs: true })).toMatchObject({ event: 'spectate', data: { channels } });
      expect(t.subscriptions(conn)).toEqual(channels);
    }
  });

  it('a replayed private log entry reaches only a spectator allowed private logs', async () => {
    const t = setup();
    await t.hub.publish(guildLogsStream(G), logEntry(true));
    await t.hub.publish(guildLogsStream(G), logEntry(false));
    const pub = t.join({ sub: 'p', guilds: { [G]: Permission.VIEW_PUBLIC_LOGS } });
    const priv = t.join({ sub: 'q', guilds: { [G]: Permission.VIEW_PUBLIC_LOGS | Permission.VIEW_PRIVATE_LOGS } });
    const since = { [guildLogsStream(G)]: { offset: 0, epoch: (await t.hub.history(guildLogsStream(G), undefined, 1)).position.epoch } };
    await t.ask(pub, 'spectate', { guild_id: G, include_logs: true, since });
    await t.ask(priv, 'spectate', { guild_id: G, include_logs: true, since });
    const replayed = (conn: Conn) =>
      t.frames.filter((f) => f.type === 'unicast' && f.id === conn.id && (f.message as { event: string }).event === 'log_other').map((f) => (f.message as { data: { private: boolean } }).data.private);
    expect(replayed(pub)).toEqual([false]);
    expect(replayed(priv)).toEqual([true, false]);
  });

  it('a claims change that removes log permissions drops those channels and tells the client; losing the guild ends the spectation', async () => {
    const t = setup();
    const conn = t.join({ sub: 'q', guilds: { [G]: Permission.VIEW_PUBLIC_LOGS | Permission.VIEW_PRIVATE_LOGS } });
    await t.ask(conn, 'spectate', { guild_id: G, include_logs: true });
    t.changeClaims(conn, { sub: 'q', guilds: { [G]: Permission.VIEW_PUBLIC_LOGS } });
    expect(t.unsubscriptions(conn)).toEqual([`guild:${G}:logs:private`]);
    t.changeClaims(conn, { sub: 'q', guilds: {} });
    expect(t.unsubscriptions(conn)).toEqual([`guild:${G}:logs:private`, `guild:${G}`, `guild:${G}:logs`]);
    const revoked = t.frames.filter((f) => f.type === 'unicast' && (f.message as { event: string }).event === 'spectate_revoked').map((f) => (f.message as { data: unknown }).data);
    expect(revoked).toEqual([
      { guild_id: G, channels: [`guild:${G}:logs:private`], spectating: true, reason: 'permissions changed' },
      { guild_id: G, channels: [`guild:${G}`, `guild:${G}:logs`], spectating: false, reason: 'permissions changed' },
    ]);
    // Only the room's own stream is still held (by Rooms): the guild's streams were released.
    expect([...t.hub.counts().keys()]).toEqual(['room:lobby']);
    expect(t.channels.subscribers(`guild:${G}`)).toBe(0);
  });
});

describe('pool permissions', () => {
  it('a guild pool needs guild_id (bad_request) and the guild in the token (forbidden)', async () => {
    const t = setup();
    await t.store.put('member', G, { id: 'm1', name: 'Ann' });
    const conn = t.join({ sub: 'alice', guilds: { [OTHER]: 0 } });
    expect(await t.ask(conn, 'pool_request', { type: 'member', ids: ['m1'] })).toMatchObject({ event: 'error', code: 'bad_request', message: 'pool member needs guild_id' });
    for (const event of ['pool_request', 'pool_all_request', 'pool_search_request']) {
      const data = { type: 'member', guild_id: G, ...(event === 'pool_request' ? { ids: ['m1'] } : event === 'pool_search_request' ? { query: 'a' } : {}) };
      expect(await t.ask(conn, event, data)).toMatchObject({ event: 'error', code: 'forbidden', message: `guild ${G} is not in your token` });
    }
    const member = t.join({ sub: 'bob', guilds: { [G]: 0 } });
    expect(await t.ask(member, 'pool_request', { type: 'member', guild_id: G, ids: ['m1'] })).toMatchObject({ event: 'pool_response', data: { data: [{ id: 'm1', name: 'Ann' }], nonexistent: [] } });
  });

  it('the guild pool shows only the caller\'s guilds and reports the others as nonexistent, in get and in streaming', async () => {
    const t = setup();
    await t.store.put('guild', undefined, { id: G, name: 'mine' });
    await t.store.put('guild', undefined, { id: OTHER, name: 'theirs' });
    const conn = t.join({ sub: 'alice', guilds: { [G]: 0 } });
    expect(await t.ask(conn, 'pool_request', { type: 'guild', ids: [G, OTHER] })).toMatchObject({ event: 'pool_response', data: { data: [{ id: G, name: 'mine' }], nonexistent: [OTHER] } });
    expect(await t.ask(conn, 'pool_all_request', { type: 'guild' })).toMatchObject({ event: 'pool_response', data: { data: [{ id: G, name: 'mine' }], finished: true } });
    const admin = t.join({ sub: 'root', admin: true });
    expect(((await t.ask(admin, 'pool_request', { type: 'guild', ids: [G, OTHER] })).data as { data: unknown[] }).data).toHaveLength(2);
  });
});
