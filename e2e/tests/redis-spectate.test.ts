import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode, guildLogsStream, guildStream, Permission } from '@gateway/protocol';
import {
  connect,
  startBalancer,
  startMonolith,
  startRedis,
  useHarness,
  userToken,
  waitFor,
  type BalancerHandle,
  type MonolithHandle,
  type RedisHandle,
  type TestClient,
} from '../harness/index.js';
import { logEntry, postLog } from '../harness/gateway-http.js';
import { roomOn } from '../harness/placement.js';
import { subscribers } from '../harness/streams.js';

useHarness();

const toStop: Array<{ stop(): Promise<unknown> }> = [];
afterAll(async () => {
  await Promise.all(toStop.map((h) => h.stop()));
});

const VIEW_ALL = Permission.VIEW_PUBLIC_LOGS | Permission.VIEW_PRIVATE_LOGS;
// Both monoliths have spectators of BOTH; ONE is watched on m1 only; LEFT's only spectator
// leaves during the outage; NEW is first spectated during the outage.
const BOTH = '710000000000000001';
const ONE = '720000000000000002';
const LEFT = '730000000000000003';
const NEW = '740000000000000004';

/** A spectator of `guild` in a room that the balancer, linked to `linked`, places on `monolith`. */
async function spectator(balancer: BalancerHandle, monolith: MonolithHandle, linked: MonolithHandle[], guild: string): Promise<TestClient> {
  const c = await connect(balancer.url());
  const welcome = await c.auth(await userToken({ guilds: { [guild]: VIEW_ALL, [NEW]: VIEW_ALL } }), roomOn(monolith, linked, 'spec'));
  expect(welcome.data.monolith).toBe(monolith.id);
  expect(await c.request('spectate', 'sp', { guild_id: guild, include_logs: true })).toMatchObject({ event: 'spectate' });
  return c;
}

async function ready(monolith: MonolithHandle): Promise<number> {
  return (await fetch(`${monolith.http}/ready`)).status;
}

describe('guild subscriptions across a Redis restart', () => {
  it('resubscribes exactly the guild channels still spectated, once per monolith, and pushes reach every spectator once', async () => {
    let redis: RedisHandle = await startRedis({ external: false });
    const port = Number(new URL(redis.url).port);
    const [m1, m2] = await Promise.all([startMonolith({ redisUrl: redis.url }), startMonolith({ redisUrl: redis.url })]);
    const balancer = await startBalancer({ monoliths: [m1, m2] });
    toStop.push(balancer, m1, m2);
    const linked = [m1, m2];
    const both = [await spectator(balancer, m1, linked, BOTH), await spectator(balancer, m2, linked, BOTH), await spectator(balancer, m2, linked, BOTH)];
    const one = await spectator(balancer, m1, linked, ONE);
    const leaver = await spectator(balancer, m2, linked, LEFT);
    const newcomer = both[1]!;

    const expected: Record<string, number> = { [BOTH]: 2, [ONE]: 1, [LEFT]: 1, [NEW]: 0 };
    const numsubs = async (): Promise<Record<string, number>> => {
      const r = new Redis(redis.url);
      try {
        const out: Record<string, number> = {};
        for (const g of [BOTH, ONE, LEFT, NEW]) {
          for (const stream of [guildStream(g), guildLogsStream(g)]) out[stream] = await subscribers(r, stream);
        }
        return out;
      } finally {
        r.disconnect();
      }
    };
    const want = (e: Record<string, number>) => Object.fromEntries(Object.entries(e).flatMap(([g, n]) => [[guildStream(g), n], [guildLogsStream(g), n]]));
    await waitFor(async () => JSON.stringify(await numsubs()) === JSON.stringify(want(expected)), { what: 'guild channels subscribed before the outage' });

    await redis.kill();
    await waitFor(async () => (await ready(m1)) === 503 && (await ready(m2)) === 503, { what: 'both monoliths report the outage' });
    // During the outage: LEFT's only spectator leaves, and a spectator moves from BOTH to NEW.
    // NEW's position cannot be read without Redis, so that spectate is refused as `unavailable`
    // (README: the client sends it again with back-off) and must leave no subscription behind.
    leaver.close();
    expect(await newcomer.request('spectate', 'sw', { guild_id: NEW, include_logs: true })).toMatchObject({ event: 'error', _id: 'sw', code: ErrorCode.UNAVAILABLE });
    await waitFor(async () => (await m2.metric('gateway_monolith_connections')) === 2, { what: "the leaver's leave processed on m2" });

    redis = await startRedis({ port, external: false });
    toStop.push(redis);
    await waitFor(async () => (await ready(m1)) === 200 && (await ready(m2)) === 200, { timeoutMs: 20_000, what: 'both monoliths back on Redis' });
    // m2 still has a BOTH spectator (both[2]), so BOTH stays at 2; LEFT is gone; NEW was refused.
    const back = { [BOTH]: 2, [ONE]: 1, [LEFT]: 0, [NEW]: 0 };
    await waitFor(async () => JSON.stringify(await numsubs()) === JSON.stringify(want(back)), {
      timeoutMs: 20_000,
      what: `guild channels resubscribed exactly as ${JSON.stringify(want(back))}`,
    });
    // The retry, as a client does after `unavailable`: NEW is then on m2 only.
    expect(await newcomer.request('spectate', 'sw2', { guild_id: NEW, include_logs: true })).toMatchObject({ event: 'spectate', data: { guild_id: NEW } });
    const after = { ...back, [NEW]: 1 };
    await waitFor(async () => JSON.stringify(await numsubs()) === JSON.stringify(want(after)), {
      what: `NEW's channels subscribed once: ${JSON.stringify(want(after))}`,
    });

    // Each spectator gets each entry of its guild once; a second entry on the same path
    // proves the first had its chance to be duplicated.
    const watchers: Array<[TestClient, string]> = [[both[0]!, BOTH], [both[2]!, BOTH], [one, ONE], [newcomer, NEW]];
    for (const g of [BOTH, ONE, NEW]) {
      expect(await postLog(m1, logEntry(g, `${g.slice(0, 2)}1`))).toBe(202);
      expect(await postLog(m1, logEntry(g, `${g.slice(0, 2)}2`))).toBe(202);
    }
    for (const [c, g] of watchers) {
      await c.next((m) => m.event === 'log_other' && m.data.id === `${g.slice(0, 2)}2`, 10_000);
      const ids = c.received.filter((m) => m.event === 'log_other').map((m) => m.data.id);
      expect(ids, `log entries for a ${g} spectator`).toEqual([`${g.slice(0, 2)}1`, `${g.slice(0, 2)}2`]);
      expect(c.isClosed).toBe(false);
    }
    expect(JSON.stringify(await numsubs())).toBe(JSON.stringify(want(after)));
    for (const [c] of watchers) c.close();
  }, 90_000);
});
