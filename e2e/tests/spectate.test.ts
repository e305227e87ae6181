import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guildLogsStream, guildStream, Permission } from '@gateway/protocol';
import { connect, startStack, uniq, useHarness, userToken, waitFor, type Stack, type TestClient } from '../harness/index.js';
import { logEntry, postLog as postTo, putPool } from '../harness/gateway-http.js';
import { subscribers } from '../harness/streams.js';

useHarness();

const G1 = '111111111111111111';
const G2 = '222222222222222222';
const VIEW_ALL = Permission.VIEW_PUBLIC_LOGS | Permission.VIEW_PRIVATE_LOGS;

let stack: Stack;
let redis: Redis;

beforeAll(async () => {
  stack = await startStack({ monoliths: 2, balancers: 2, redis: true });
  redis = new Redis(stack.redis!.url);
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
});

async function client(balancer: number, guilds: Record<string, number>, room?: string): Promise<TestClient> {
  const c = await connect(stack.balancers[balancer]!.url());
  await c.auth(await userToken({ sub: uniq('u'), guilds }), room);
  return c;
}

const put = (monolith: number, guild: string, type: string, entity: Record<string, unknown> & { id: string }) =>
  putPool(stack.monoliths[monolith]!, guild, type, entity);
const postLog = (monolith: number, entry: Record<string, unknown>) => postTo(stack.monoliths[monolith]!, entry);
const entry = logEntry;

const numsub = (stream: string): Promise<number> => subscribers(redis, stream);

describe('spectate', () => {
  it('refuses a guild that is not in the token, and logs without VIEW_PUBLIC_LOGS', async () => {
    const c = await client(0, { [G1]: 0 });
    expect(await c.request('spectate', 1, { guild_id: G2 })).toMatchObject({ event: 'error', code: 'forbidden' });
    expect(await c.request('spectate', 2, { guild_id: G1, include_logs: true })).toMatchObject({ event: 'error', code: 'forbidden' });
    expect(await c.request('spectate', 3, { guild_id: 'not-a-snowflake' })).toMatchObject({ event: 'error', code: 'bad_request' });
    c.close();
  });

  it('delivers log_pool written on one monolith to spectators on both balancers, whichever monolith owns their rooms', async () => {
    // Users on both balancers, until their rooms have landed on both monoliths.
    const watchers: TestClient[] = [];
    const owners = new Set<string>();
    const ownerOf = (w: TestClient) => (w.received.find((m) => m.event === 'welcome') as { data: { monolith: string } }).data.monolith;
    while (watchers.length < 4 || (owners.size < 2 && watchers.length < 40)) {
      const w = await client(watchers.length % 2, { [G1]: 0 });
      watchers.push(w);
      owners.add(ownerOf(w));
    }
    expect(owners.size).toBe(2);
    for (const [i, w] of watchers.entries()) {
      expect(await w.request('spectate', i, { guild_id: G1 })).toMatchObject({ event: 'spectate', data: { guild_id: G1, channels: [`guild:${G1}`] } });
    }
    const id = uniq('ar').replace(/\D/g, '') || '7';
    for (const m of [0, 1]) {
      const entity = { id: `${m}${id}`, trigger: `hi${m}`, response: 'yo' };
      expect(await put(m, G1, 'autoResponse', entity)).toBe(200);
      for (const w of watchers) {
        const push = await w.next((msg) => msg.event === 'log_pool' && (msg.data as { entity?: { id: string } }).entity?.id === entity.id);
        expect(push.data).toMatchObject({ type: 'autoResponse', guild_id: G1, entity });
      }
    }
    for (const w of watchers) w.close();
  });

  it('switching guilds delivers nothing from the old guild afterwards', async () => {
    const c = await client(0, { [G1]: 0, [G2]: 0 });
    await c.request('spectate', 1, { guild_id: G1 });
    expect(await c.request('spectate', 2, { guild_id: G2 })).toMatchObject({ data: { guild_id: G2 } });
    // Same publisher connection, so Redis delivers in publish order: once G2's push is here,
    // a G1 push published before it would have arrived first.
    expect(await put(1, G1, 'role', { id: '901', name: 'old' })).toBe(200);
    expect(await put(1, G2, 'role', { id: '902', name: 'new' })).toBe(200);
    await c.next((m) => m.event === 'log_pool' && (m.data as { guild_id: string }).guild_id === G2);
    expect(c.received.filter((m) => m.event === 'log_pool' && (m.data as { guild_id: string }).guild_id === G1)).toEqual([]);
    c.close();
  });

  it('sends private log entries only to connections with VIEW_PRIVATE_LOGS', async () => {
    const g = '333333333333333333';
    const publicViewer = await client(0, { [g]: Permission.VIEW_PUBLIC_LOGS });
    const privateViewer = await client(1, { [g]: VIEW_ALL });
    const admin = await client(1, { [g]: Permission.ADMINISTRATOR });
    for (const [i, c] of [publicViewer, privateViewer, admin].entries()) {
      expect(await c.request('spectate', i, { guild_id: g, include_logs: true })).toMatchObject({ event: 'spectate' });
    }
    expect(await postLog(0, entry(g, '1001', true))).toBe(202);
    expect(await postLog(0, entry(g, '1002', false))).toBe(202);
    for (const c of [privateViewer, admin]) {
      expect((await c.next((m) => m.event === 'log_other')).data).toMatchObject({ id: '1001', private: true });
      expect((await c.next((m) => m.event === 'log_other')).data).toMatchObject({ id: '1002', private: false });
    }
    expect((await publicViewer.next((m) => m.event === 'log_other')).data).toMatchObject({ id: '1002' });
    expect(publicViewer.received.some((m) => m.event === 'log_other' && (m.data as { id: string }).id === '1001')).toBe(false);
    for (const c of [publicViewer, privateViewer, admin]) c.close();
  });

  it('subscribes the guild channels in Redis only while someone spectates', async () => {
    const g = '444444444444444444';
    const [pool, logs] = [guildStream(g), guildLogsStream(g)];
    expect(await numsub(pool)).toBe(0);
    const a = await client(0, { [g]: VIEW_ALL });
    const b = await client(1, { [g]: VIEW_ALL });
    expect(await a.request('spectate', 1, { guild_id: g, include_logs: true })).toMatchObject({ event: 'spectate' });
    expect(await b.request('spectate', 1, { guild_id: g, include_logs: true })).toMatchObject({ event: 'spectate' });
    // One subscription per monolith with spectators (the owners of a's and b's rooms), never
    // one per spectator.
    const owners = new Set([a, b].map((c) => String(c.received.find((m) => m.event === 'welcome')!.data.monolith))).size;
    await waitFor(async () => (await numsub(pool)) === owners && (await numsub(logs)) === owners, { what: `one subscription per owner (${owners})` });
    a.close();
    b.close();
    await waitFor(async () => (await numsub(pool)) === 0 && (await numsub(logs)) === 0, { what: 'guild channels unsubscribed after the last spectator left' });
  });
});
