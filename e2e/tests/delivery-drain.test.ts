import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode } from '@gateway/protocol';
import { startStack, useHarness, type Stack } from '../harness/index.js';
import { Publisher, deliveryProblems, publisherProblems, spectators, uniqGuild, warmUp, type DeliveryClient } from '../harness/delivery.js';

useHarness();

// 30 spectators with logs (15 rooms of 2, one on each balancer) over 2 balancers × 3 monoliths,
// under a stream of 200+ numbered log entries (and a room broadcast every other step). Clients
// that lose their socket reconnect with `since` (auth for the room's stream, spectate for the
// guild's logs) and must get exactly what they missed: no acknowledged publication lost or
// duplicated, none out of order, no `recovered: false` (history covers the gap).
const SPECTATORS = 30;
const PER_ROOM = 2;
const STEPS = 200;
const PACE_MS = 10;
const ROOM_EVERY = 2;

let stack: Stack | undefined;
let clients: DeliveryClient[] = [];
let publisher: Publisher | undefined;
afterEach(async () => {
  await publisher?.abort();
  publisher = undefined;
  for (const c of clients) c.close();
  clients = [];
  await stack?.stop();
  stack = undefined;
});

/** Fleet, stream, `fault()` (resolving with the clients it cuts off), their reconnects, checks. */
async function reconnecting(fault: (s: Stack) => Promise<DeliveryClient[]>, balancerEnv: Record<string, string> = {}): Promise<DeliveryClient[]> {
  stack = await startStack({ monoliths: 3, balancers: 2, redis: true, balancerEnv });
  const guilds = [uniqGuild(), uniqGuild()];
  clients = await spectators(stack.balancers, { count: SPECTATORS, perRoom: PER_ROOM, guilds });
  const rooms = [...new Set(clients.map((c) => c.spec.room))];
  const p = (publisher = new Publisher({ targets: stack.monoliths, guilds, rooms, paceMs: PACE_MS, roomEvery: ROOM_EVERY }));
  p.start();
  const firstStep = await warmUp(clients, p, rooms.length * ROOM_EVERY);
  await p.after(20);

  const cut = await fault(stack);
  expect(cut.length).toBeGreaterThan(0);
  await Promise.all(cut.map((c) => c.until((x) => x.reconnects >= 1, 20_000, 'a reconnect')));
  await p.after(30);
  await p.until(() => p.steps >= STEPS, 30_000, `${STEPS} steps`);
  await p.stop();

  expect(publisherProblems(p)).toEqual([]);
  expect(await deliveryProblems(clients, p, { toldAllowed: false, firstStep })).toEqual([]);
  for (const c of clients) {
    expect(c.closes.length, `${c.spec.label} closes`).toBe(cut.includes(c) ? 1 : 0);
    expect(c.reconnects, `${c.spec.label} reconnects`).toBe(cut.includes(c) ? 1 : 0);
    // Nobody was moved between monoliths: no resync, so the session streams came back by `auth` `since`.
    expect(c.resyncs, `${c.spec.label} resyncs`).toBe(0);
  }
  return cut;
}

describe('no acknowledged publication lost or duplicated across reconnects (2 balancers × 3 monoliths, Redis)', () => {
  it('balancer drain (SIGTERM): its clients are closed with 4000, reconnect to the other balancer with since, and miss nothing', async () => {
    let exited: Promise<{ code: number | null }> | undefined;
    const cut = await reconnecting(
      async (s) => {
        const draining = s.balancers[0]!;
        exited = draining.proc.exited;
        draining.proc.signal('SIGTERM');
        return clients.filter((c) => c.url === draining.url());
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
    await reconnecting(async () => {
      const cut = clients.filter((_, i) => i % 10 === 3);
      for (const c of cut) c.terminate();
      return cut;
    });
  }, 120_000);
});
