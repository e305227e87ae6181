import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode } from '@gateway/protocol';
import { startStack, useHarness, type Stack } from '../harness/index.js';
import type { DeliveryClient } from '../harness/delivery-client.js';
import { Publisher } from '../harness/delivery-publisher.js';
import { publisherProblems } from '../harness/delivery-report.js';
import { SCENARIO, deliveryProblems, endScenario, spectators, uniqGuild, warmUp } from '../harness/delivery-scenario.js';

useHarness();

// 30 spectators with logs (15 rooms of 2, one on each balancer) over 2 balancers × 3 monoliths,
// under a stream of 200+ numbered log entries (and a room broadcast every other step). Clients
// that lose their socket reconnect with `since` (auth for the room's stream, spectate for the
// guild's logs) and must get exactly what they missed: no acknowledged publication lost or
// duplicated, none out of order, no `recovered: false` (history covers the gap).
const { SPECTATORS, PER_ROOM, STEPS, PACE_MS, ROOM_EVERY } = SCENARIO;

let stack: Stack | undefined;
let clients: DeliveryClient[] = [];
let publisher: Publisher | undefined;
afterEach(async () => {
  await endScenario({ publisher, clients, stack });
  [publisher, clients, stack] = [undefined, [], undefined];
});

/**
 * Fleet, stream, `cut(stack, clients)` (which cuts off the sockets of the clients it returns),
 * their reconnects (half of them only once 20 more steps are acknowledged), checks.
 */
async function reconnecting(pick: (s: Stack) => DeliveryClient[], cut: (s: Stack, picked: DeliveryClient[]) => void, balancerEnv: Record<string, string> = {}): Promise<DeliveryClient[]> {
  stack = await startStack({ monoliths: 3, balancers: 2, redis: true, balancerEnv });
  const guilds = [uniqGuild(), uniqGuild()];
  clients = await spectators(stack.balancers, { count: SPECTATORS, perRoom: PER_ROOM, guilds });
  const rooms = [...new Set(clients.map((c) => c.spec.room))];
  const p = (publisher = new Publisher({ targets: stack.monoliths, guilds, rooms, paceMs: PACE_MS, roomEvery: ROOM_EVERY }));
  p.start();
  const firstStep = await warmUp(clients, p, rooms.length * ROOM_EVERY);
  await p.after(20);

  const picked = pick(stack);
  expect(picked.length).toBeGreaterThan(0);
  const slow = picked.filter((_, i) => i % 2 === 1);
  for (const c of slow) c.holdRecovery(() => p.after(20));
  cut(stack, picked);
  await Promise.all(picked.map((c) => c.until((x) => x.reconnects >= 1, 20_000, 'a reconnect')));
  await p.after(30);
  await p.until(() => p.steps >= STEPS, 30_000, `${STEPS} steps`);
  await p.stop();

  expect(publisherProblems(p)).toEqual([]);
  expect(await deliveryProblems(clients, p, { toldAllowed: false, firstStep })).toEqual([]);
  for (const c of clients) {
    expect(c.closes.length, `${c.spec.label} closes`).toBe(picked.includes(c) ? 1 : 0);
    expect(c.reconnects, `${c.spec.label} reconnects`).toBe(picked.includes(c) ? 1 : 0);
    // Nobody was moved between monoliths: no resync, so the session streams came back by `auth` `since`.
    expect(c.resyncs, `${c.spec.label} resyncs`).toBe(0);
  }
  for (const c of slow) expect(c.replayed, `${c.spec.label} pushes from history`).toBeGreaterThan(0);
  console.info(`cut ${picked.length} of ${clients.length}; from history: ${picked.map((c) => `${c.spec.label}=${c.replayed}`).join(' ')}`);
  return picked;
}

describe('no acknowledged publication lost or duplicated across reconnects (2 balancers × 3 monoliths, Redis)', () => {
  it('balancer drain (SIGTERM): its clients are closed with 4000, reconnect to the other balancer with since, and miss nothing', async () => {
    let exited: Promise<{ code: number | null }> | undefined;
    const cut = await reconnecting(
      (s) => clients.filter((c) => c.url === s.balancers[0]!.url()),
      (s) => {
        exited = s.balancers[0]!.proc.exited;
        s.balancers[0]!.proc.signal('SIGTERM');
      },
      { DRAIN_WINDOW_MS: '1000' },
    );
    expect((await exited!).code).toBe(0);
    const other = stack!.balancers[1]!;
    for (const c of cut) {
      expect(c.closes[0]?.code, c.spec.label).toBe(CloseCode.DRAINING);
      expect(c.url, c.spec.label).toBe(other.url());
    }
  }, 120_000);

  it('10% of sockets terminated (no close frame): each reconnects with since and misses nothing', async () => {
    await reconnecting(
      () => clients.filter((_, i) => i % 10 === 3),
      (_, picked) => {
        for (const c of picked) c.terminate();
      },
    );
  }, 120_000);
});
