import { afterAll, describe, expect, it } from 'vitest';
import {
  adminToken,
  connect,
  startBalancer,
  startMonolith,
  startRedis,
  uniq,
  useHarness,
  userToken,
  waitFor,
  type MonolithHandle,
  type RedisHandle,
} from '../harness/index.js';

useHarness();

const toStop: Array<{ stop(): Promise<unknown> }> = [];
afterAll(async () => {
  await Promise.all(toStop.map((h) => h.stop()));
});

async function ready(monolith: MonolithHandle): Promise<number> {
  return (await fetch(`${monolith.http}/ready`)).status;
}

async function broadcast(monolith: MonolithHandle, room: string, event: string): Promise<number> {
  const res = await fetch(`${monolith.http}/api/rooms/${room}/broadcast`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await adminToken()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ event }),
  });
  return res.status;
}

// Killing and restarting Redis needs one the harness owns, not a shared REDIS_URL.
describe('Redis lost and back', () => {
  it('keeps serving connections, reports the outage on /ready, and re-subscribes rooms after', async () => {
    let redis: RedisHandle = await startRedis({ external: false });
    const port = Number(new URL(redis.url).port);
    const monolith = await startMonolith({ redisUrl: redis.url });
    const balancer = await startBalancer({ monoliths: [monolith] });
    toStop.push(balancer, monolith);
    const room = uniq('steady');
    const c = await connect(balancer.url());
    await c.auth(await userToken(), room);
    // Subscribing to the room topic is asynchronous: wait until a broadcast gets through.
    await waitFor(async () => (await broadcast(monolith, room, 'before')) === 202 && c.pending().some((m) => m.event === 'before'), {
      what: 'a broadcast before the outage',
    });
    expect(await ready(monolith)).toBe(200);

    await redis.kill();
    await waitFor(async () => (await ready(monolith)) === 503, { what: '/ready reporting the Redis outage' });
    // Connections and requests do not depend on Redis.
    expect(await c.request('ping', 1)).toMatchObject({ event: 'pong', _id: 1 });
    const duringRoom = uniq('during');
    const during = await connect(balancer.url());
    expect((await during.auth(await userToken(), duringRoom)).event).toBe('welcome');
    // Keep Redis down until the monolith's epoch request for that room has failed (ioredis gives
    // up on a command after its retries): the room must still be subscribed and announced later.
    await monolith.proc.waitForLine(
      (l) => (l.text.includes('no epoch for room yet') && l.text.includes(duringRoom) ? true : undefined),
      20_000,
      `the failed epoch INCR for ${duringRoom}`,
    );

    redis = await startRedis({ port, external: false });
    toStop.push(redis);
    await waitFor(async () => (await ready(monolith)) === 200, { timeoutMs: 20_000, what: '/ready after Redis is back' });
    await waitFor(async () => (await broadcast(monolith, room, 'after')) === 202 && c.pending().some((m) => m.event === 'after'), {
      timeoutMs: 20_000,
      what: 'a broadcast reaching the room after Redis is back (topic re-subscribed)',
    });
    // "After a lost broker connection, every topic with handlers is subscribed again once"
    // (bus.ts): that includes a room first loaded during the outage.
    await waitFor(
      async () => (await broadcast(monolith, duringRoom, 'after')) === 202 && during.pending().some((m) => m.event === 'after'),
      { timeoutMs: 10_000, what: 'a broadcast reaching the room loaded during the outage' },
    );
    expect(c.isClosed).toBe(false);
  });
});
