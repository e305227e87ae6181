import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { Permission } from '@gateway/protocol';
import { connect, guestToken, startStack, uniq, useHarness, userToken, waitFor, type Stack, type TestClient } from '../harness/index.js';
import { logEntry, postLog, putPool } from '../harness/gateway-http.js';

useHarness();

const G = '333333333333333333';
const VIEW_ALL = Permission.VIEW_PUBLIC_LOGS | Permission.VIEW_PRIVATE_LOGS;
const stacks: Stack[] = [];
afterAll(async () => {
  await Promise.all(stacks.map((s) => s.stop()));
});

const logIds = (c: TestClient, isPrivate: boolean) =>
  c.received.filter((m) => m.event === 'log_other' && (m.data as { private: boolean }).private === isPrivate).map((m) => (m.data as { id: string }).id);
const poolIds = (c: TestClient) => c.received.filter((m) => m.event === 'log_pool').map((m) => (m.data as { entity: { id: string } }).entity.id);

async function refresh(c: TestClient, token: string): Promise<void> {
  c.send({ action: 'auth', token });
  await c.nextEvent('refreshed');
}

describe('a refresh that lowers permissions (finding 4)', () => {
  // One embedded monolith: a publication is fanned out before its POST answers, so a ping sent
  // after the POST is answered after that fan-out, on the same socket: a reliable "nothing more".
  it('drops the channels the new token does not allow, at once, and says so', async () => {
    const stack = await startStack();
    stacks.push(stack);
    const [monolith] = stack.monoliths;
    const sub = uniq('watcher');
    const c = await connect(stack.balancers[0]!.url());
    await c.auth(await userToken({ sub, guilds: { [G]: VIEW_ALL } }));
    expect(await c.request('spectate', 1, { guild_id: G, include_logs: true })).toMatchObject({ data: { channels: [`guild:${G}`, `guild:${G}:logs`, `guild:${G}:logs:private`] } });
    expect(await postLog(monolith!, logEntry(G, '101', true))).toBe(202);
    await c.next((m) => m.event === 'log_other' && (m.data as { id: string }).id === '101');

    // Down to public logs only: the private channel goes, the rest stays.
    await refresh(c, await userToken({ sub, guilds: { [G]: Permission.VIEW_PUBLIC_LOGS } }));
    const lost = await c.nextEvent('spectate_revoked');
    expect(lost.data).toMatchObject({ guild_id: G, channels: [`guild:${G}:logs:private`], spectating: true });
    expect(await postLog(monolith!, logEntry(G, '102', true))).toBe(202);
    expect(await postLog(monolith!, logEntry(G, '103', false))).toBe(202);
    await c.next((m) => m.event === 'log_other' && (m.data as { id: string }).id === '103');
    expect(logIds(c, true)).toEqual(['101']);

    // The guild removed from the token: pool updates and public logs stop too.
    await refresh(c, await userToken({ sub, guilds: {} }));
    expect((await c.nextEvent('spectate_revoked')).data).toMatchObject({ guild_id: G, spectating: false });
    expect(await putPool(monolith!, G, 'autoResponse', { id: '9001', trigger: 'hey', response: 'yo' })).toBe(200);
    expect(await postLog(monolith!, logEntry(G, '104', false))).toBe(202);
    expect(await c.request('ping', 2)).toMatchObject({ event: 'pong' });
    expect(poolIds(c)).toEqual([]);
    expect(logIds(c, false)).toEqual(['103']);
    // And new requests for the guild are refused.
    expect(await c.request('spectate', 3, { guild_id: G })).toMatchObject({ event: 'error', code: 'forbidden' });
  });
});

describe('room epochs in Redis (finding 6)', () => {
  it('leave no key per room: 40 guest sessions later there is one shared counter', async () => {
    const stack = await startStack({ redis: true, monolithEnv: { ROOM_UNLOAD_GRACE_MS: '0' } });
    stacks.push(stack);
    const redis = new Redis(stack.redis!.url);
    try {
      for (let i = 0; i < 40; i++) {
        const c = await connect(stack.balancers[0]!.url());
        await c.auth(await guestToken());
        c.close();
      }
      await waitFor(async () => (await stack.monoliths[0]!.metric('gateway_monolith_rooms')) === 0, { what: 'every guest room unloaded' });
      expect(await redis.keys('gateway:epoch:*')).toEqual([]);
      expect(await redis.exists('gateway:epoch')).toBe(1);
    } finally {
      redis.disconnect();
    }
  });
});
