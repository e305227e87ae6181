import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { guildLogsStream } from '@gateway/protocol';
import { startRedis, startStack, useHarness, waitFor, type RedisHandle, type Stack } from '../harness/index.js';
import { readyOf } from '../harness/gateway-http.js';
import type { DeliveryClient } from '../harness/delivery-client.js';
import { Publisher } from '../harness/delivery-publisher.js';
import { publisherProblems, wasTold } from '../harness/delivery-report.js';
import { SCENARIO, deliveryProblems, endScenario, spectators, uniqGuild, warmUp } from '../harness/delivery-scenario.js';

useHarness();

// 30 spectators with logs (15 rooms of 2, one on each balancer) over 2 balancers × 3 monoliths,
// under a stream of 200+ numbered log entries (and a room broadcast every other step) posted
// round the three monoliths, each retried with its Idempotency-Key until acknowledged. Redis is
// killed (-9) mid-stream and restarted on its port. These tests own their Redis (never REDIS_URL).
const { SPECTATORS, PER_ROOM, STEPS, PACE_MS, ROOM_EVERY } = SCENARIO;

let stack: Stack | undefined;
let redis: RedisHandle | undefined;
let dir: string | undefined;
let clients: DeliveryClient[] = [];
let publisher: Publisher | undefined;
afterEach(async () => {
  await endScenario({ publisher, clients, stack });
  [publisher, clients, stack] = [undefined, [], undefined];
  await redis?.stop();
  redis = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const during = (p: Publisher) => p.attempts.filter((a) => a.phases[0] === 'down' && a.phases[1] === 'down');

/**
 * Fleet, stream, Redis killed and restarted (with its AOF or empty), the stream resumes. Most
 * clients stay connected (their monolith fills its own gap); 10% lose their socket as Redis
 * dies and reconnect with `since` only once it is back and 10 more steps are acknowledged.
 */
async function redisRestart(persist: boolean): Promise<{ p: Publisher; firstStep: number; guilds: string[]; cut: DeliveryClient[] }> {
  dir = persist ? mkdtempSync(join(tmpdir(), 'e2e-aof-')) : undefined;
  redis = await startRedis({ external: false, ...(dir ? { appendOnlyDir: dir } : {}) });
  const port = Number(new URL(redis.url).port);
  stack = await startStack({ monoliths: 3, balancers: 2, monolithEnv: { REDIS_URL: redis.url } });
  const guilds = [uniqGuild(), uniqGuild()];
  clients = await spectators(stack.balancers, { count: SPECTATORS, perRoom: PER_ROOM, guilds });
  const rooms = [...new Set(clients.map((c) => c.spec.room))];
  const p = (publisher = new Publisher({ targets: stack.monoliths, guilds, rooms, paceMs: PACE_MS, roomEvery: ROOM_EVERY }));
  p.start();
  const firstStep = await warmUp(clients, p, rooms.length * ROOM_EVERY);
  await p.after(20);

  let isBack: () => void = () => {};
  const back = new Promise<void>((resolve) => (isBack = resolve));
  const cut = clients.filter((_, i) => i % 10 === 7);
  for (const c of cut) {
    c.holdRecovery(() => back.then(() => p.after(10)));
    c.terminate();
  }
  p.phase = 'killing';
  await redis.kill();
  // From here until the restart nothing can be stored: every answer must be a 503.
  p.phase = 'down';
  const monoliths = stack.monoliths;
  await waitFor(async () => (await Promise.all(monoliths.map((m) => readyOf(m.http)))).every((r) => r.status === 503), {
    what: 'every monolith reporting the Redis outage on /ready',
  });
  await p.until(() => during(p).length >= 10, 20_000, 'ten publishing attempts answered while Redis is down');
  p.phase = 'restarting';
  redis = await startRedis({ port, external: false, ...(dir ? { appendOnlyDir: dir } : {}) });
  await waitFor(async () => (await Promise.all(monoliths.map((m) => readyOf(m.http)))).every((r) => r.status === 200), {
    timeoutMs: 20_000,
    what: 'every monolith back on Redis',
  });
  p.phase = 'back';
  isBack();
  await Promise.all(cut.map((c) => c.until((x) => x.reconnects >= 1, 20_000, 'a reconnect')));
  await p.after(30);
  await p.until(() => p.steps >= STEPS, 30_000, `${STEPS} steps`);
  await p.stop();

  expect(during(p).length).toBeGreaterThanOrEqual(10);
  // 503 with `unavailable` for everything sent while Redis was down; 2xx whenever it is up.
  expect(publisherProblems(p, ['up', 'back'])).toEqual([]);
  for (const c of clients) expect(c.closes.length, `${c.spec.label} closes`).toBe(cut.includes(c) ? 1 : 0);
  const byPhase = (list: Array<{ phase: string }>) => JSON.stringify(Object.fromEntries(['up', 'killing', 'down', 'restarting', 'back'].map((ph) => [ph, list.filter((x) => x.phase === ph).length])));
  const told = clients.map((c) => wasTold(c).length);
  console.info(
    `503s while down: ${during(p).length}; acks sent per phase ${byPhase(p.acks)}; clients told to reload: ${told.filter((n) => n > 0).length} (${told.reduce((a, b) => a + b, 0)} times)`,
  );
  return { p, firstStep, guilds, cut };
}

describe('no acknowledged publication lost or duplicated across a Redis restart (2 balancers × 3 monoliths)', () => {
  it('with persistence (AOF, fsync always): history survives, every client gets every acknowledged publication once, nobody is told to reload', async () => {
    const { p, firstStep, guilds, cut } = await redisRestart(true);
    // The reconnected clients' gap was read from the restored history.
    for (const c of cut) expect(c.replayed, `${c.spec.label} pushes from history`).toBeGreaterThan(0);
    for (const stream of new Set(p.acks.map((a) => a.stream))) {
      expect(new Set(p.acks.filter((a) => a.stream === stream).map((a) => a.epoch)).size, `epochs of ${stream}`).toBe(1);
    }
    expect(await deliveryProblems(clients, p, { toldAllowed: false, firstStep })).toEqual([]);

    // Nothing acknowledged that is not stored: history holds every 2xx at its position, and
    // nothing else but what was sent and not acknowledged (a 503 whose write Redis had done).
    for (const guild of guilds) {
      const stream = guildLogsStream(guild);
      const reply = await clients.find((c) => c.spec.guild === guild)!.history(stream, 1000);
      expect(reply.event, JSON.stringify(reply)).toBe('history');
      const stored = new Map<number, string>();
      for (const pub of reply.data.publications as Array<{ offset: number; message: unknown }>) {
        const message = (typeof pub.message === 'string' ? JSON.parse(pub.message) : pub.message) as { data?: { id?: unknown } };
        stored.set(pub.offset, String(message.data?.id));
      }
      const acked = p.acks.filter((a) => a.stream === stream);
      expect(reply.data.position.epoch).toBe(acked[0]!.epoch);
      expect(acked.filter((a) => stored.get(a.offset) !== a.id).map((a) => `#${a.n}@${a.offset}`), `acknowledged but not in history (${stream})`).toEqual([]);
      const sent = new Set(p.attempts.filter((a) => a.stream === stream).map((a) => a.id));
      const ackedIds = new Set(acked.map((a) => a.id));
      const extra = [...stored].filter(([, id]) => !ackedIds.has(id));
      expect(extra.filter(([, id]) => !sent.has(id)), `in history, never sent (${stream})`).toEqual([]);
    }
  }, 180_000);

  it('without persistence: the streams get a new epoch and every client is told (epoch change or recovered: false), never a silent gap', async () => {
    const { p, firstStep, cut } = await redisRestart(false);
    // A reconnect with a position of the lost epoch is answered recovered: false.
    for (const c of cut) expect(wasTold(c).filter((t) => t.includes('recovered: false')), c.spec.label).not.toEqual([]);
    for (const stream of new Set(p.acks.map((a) => a.stream))) {
      const before = new Set(p.acks.filter((a) => a.stream === stream && a.phase === 'up').map((a) => a.epoch));
      const after = new Set(p.acks.filter((a) => a.stream === stream && a.phase === 'back').map((a) => a.epoch));
      // History lost: a stream published to after the restart is under a new epoch.
      expect(before.size, `epochs of ${stream} before the restart`).toBe(1);
      for (const e of after) expect(before.has(e), `${stream}: epoch ${e} after the restart is new`).toBe(false);
    }
    expect(await deliveryProblems(clients, p, { toldAllowed: true, firstStep })).toEqual([]);
    for (const c of clients) {
      const told = wasTold(c);
      const streamsOnTwoEpochs = c.streams.filter((s) => new Set(p.acks.filter((a) => a.stream === s).map((a) => a.epoch)).size > 1);
      for (const s of streamsOnTwoEpochs) expect(told.some((t) => t.startsWith(`${s}:`)), `${c.spec.label} told about ${s}: ${JSON.stringify(told)}`).toBe(true);
    }
  }, 180_000);
});
