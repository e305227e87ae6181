import { afterEach, describe, expect, it } from 'vitest';
import { startStack, useHarness, type MonolithHandle, type Stack } from '../harness/index.js';
import type { DeliveryClient } from '../harness/delivery-client.js';
import { Publisher } from '../harness/delivery-publisher.js';
import { publisherProblems } from '../harness/delivery-report.js';
import { SCENARIO, deliveryProblems, endScenario, spectators, uniqGuild, warmUp } from '../harness/delivery-scenario.js';

useHarness();

// 30 spectators with logs (15 rooms of 2, one on each balancer) over 2 balancers × 3 monoliths;
// a publisher posts 200+ numbered log entries (and a room broadcast every other step) through
// the survivors while one monolith is killed or drained. Every acknowledged publication must
// reach every client of its stream exactly once, in offset order: history covers the gap.
const { SPECTATORS, PER_ROOM, STEPS, PACE_MS, ROOM_EVERY } = SCENARIO;

let stack: Stack | undefined;
let clients: DeliveryClient[] = [];
let publisher: Publisher | undefined;
afterEach(async () => {
  await endScenario({ publisher, clients, stack });
  [publisher, clients, stack] = [undefined, [], undefined];
});

async function failover(remove: (victim: MonolithHandle) => Promise<void>): Promise<{ victim: MonolithHandle; affected: DeliveryClient[] }> {
  stack = await startStack({ monoliths: 3, balancers: 2, redis: true });
  const guilds = [uniqGuild(), uniqGuild()];
  clients = await spectators(stack.balancers, { count: SPECTATORS, perRoom: PER_ROOM, guilds });
  const on = (m: MonolithHandle) => clients.filter((c) => c.monolith === m.id);
  const [victim, ...survivors] = [...stack.monoliths].sort((a, b) => on(b).length - on(a).length) as [MonolithHandle, ...MonolithHandle[]];
  const affected = on(victim);
  expect(affected.length).toBeGreaterThan(0);

  const rooms = [...new Set(clients.map((c) => c.spec.room))];
  const p = (publisher = new Publisher({ targets: survivors, guilds, rooms, paceMs: PACE_MS, roomEvery: ROOM_EVERY }));
  p.start();
  const firstStep = await warmUp(clients, p, rooms.length * ROOM_EVERY);
  await p.after(20);

  // Half the moved clients recover at once (replay racing live publications), half only once
  // 20 more steps are acknowledged, so their gap surely holds publications.
  const slow = affected.filter((_, i) => i % 2 === 1);
  for (const c of slow) c.holdRecovery(() => p.after(20));
  await remove(victim);
  // Moved clients stay connected: `welcome` from a survivor, `resync`, then they recover.
  await Promise.all(affected.map((c) => c.until((x) => x.resynced >= 1, 20_000, 'resync handled')));
  await p.after(30);
  await p.until(() => p.steps >= STEPS, 30_000, `${STEPS} steps`);
  await p.stop();

  expect(publisherProblems(p)).toEqual([]);
  const problems = await deliveryProblems(clients, p, { toldAllowed: false, firstStep });
  expect(problems).toEqual([]);
  for (const c of clients) {
    expect(c.closes, `${c.spec.label} stays connected`).toEqual([]);
    expect(c.welcomes, `${c.spec.label} welcomes`).toBe(affected.includes(c) ? 2 : 1);
    expect(c.resyncs, `${c.spec.label} resyncs`).toBe(affected.includes(c) ? 1 : 0);
  }
  for (const c of affected) expect(survivors.map((m) => m.id)).toContain(c.monolith);
  for (const c of slow) expect(c.replayed, `${c.spec.label} pushes from history`).toBeGreaterThan(0);
  console.info(`moved ${affected.length} of ${clients.length}; from history: ${affected.map((c) => `${c.spec.label}=${c.replayed}`).join(' ')}`);
  return { victim, affected };
}

describe('no acknowledged publication lost or duplicated across a monolith failover (2 balancers × 3 monoliths, Redis)', () => {
  it('kill -9: the moved clients recover the gap from history, the others miss nothing', async () => {
    await failover(async (victim) => void (await victim.kill()));
  }, 120_000);

  it('SIGTERM: the drained clients recover the gap the same way, and it exits 0 once empty', async () => {
    let exited: Promise<{ code: number | null; signal: string | null }> | undefined;
    await failover(async (victim) => {
      exited = victim.stop(20_000);
    });
    expect(await exited).toEqual({ code: 0, signal: null });
  }, 120_000);
});
