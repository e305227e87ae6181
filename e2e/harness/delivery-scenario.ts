import { Permission, type StreamPosition } from '@gateway/protocol';
import { DeliveryClient } from './delivery-client.js';
import type { Publisher } from './delivery-publisher.js';
import { clientProblems, type CheckOptions } from './delivery-report.js';
import { inBatches } from './gateway-http.js';
import { uniq, type BalancerHandle } from './stack.js';
import { userToken } from './tokens.js';

// The steps a delivery scenario runs round its fault: start the spectators, let everyone
// receive, then settle and collect every client's problems.

/**
 * The shape every delivery scenario shares: 30 spectators with logs, 2 per room (one on each
 * balancer), 200+ numbered steps at a 10 ms pace, a room broadcast every other step.
 */
export const SCENARIO = { SPECTATORS: 30, PER_ROOM: 2, STEPS: 200, PACE_MS: 10, ROOM_EVERY: 2 } as const;

/** Stops what a scenario started, whatever it got to: the publisher, the clients, the stack. */
export async function endScenario(run: { publisher?: Publisher | undefined; clients: DeliveryClient[]; stack?: { stop(): Promise<unknown> } | undefined }): Promise<void> {
  await run.publisher?.abort();
  for (const c of run.clients) c.close();
  await run.stack?.stop();
}

/**
 * `count` spectators with logs, `perRoom` per room, every room on all balancers in turn and
 * watching one of `guilds` (rooms in turn); each may reconnect to any balancer, its own first.
 */
export async function spectators(balancers: readonly BalancerHandle[], opts: { count: number; perRoom: number; guilds: readonly string[] }): Promise<DeliveryClient[]> {
  const tag = uniq('dl');
  const urls = balancers.map((b) => b.url());
  return inBatches(Array.from({ length: opts.count }, (_, i) => i), 10, async (i) => {
    const r = Math.floor(i / opts.perRoom);
    const guild = opts.guilds[r % opts.guilds.length]!;
    const b = i % urls.length;
    const token = await userToken({ guilds: { [guild]: Permission.VIEW_PUBLIC_LOGS | Permission.VIEW_PRIVATE_LOGS } });
    const c = new DeliveryClient({ label: `c${i}`, token, room: `${tag}-r${r}`, guild, urls: [...urls.slice(b), ...urls.slice(0, b)] });
    await c.start();
    return c;
  });
}

/** A guild id of its own (a snowflake past the mock range), so no history is shared between runs. */
export function uniqGuild(): string {
  return `9${String(Date.now()).slice(-9)}${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
}

const topsOf = (c: DeliveryClient, tops: ReadonlyMap<string, StreamPosition>) =>
  new Map(c.streams.flatMap((s) => (tops.has(s) ? [[s, tops.get(s)!] as const] : [])));

/**
 * Lets `steps` steps be published (enough for every room to get one), then waits until every
 * client has received the latest of each of its streams: everyone is receiving before a fault.
 * Returns the step from which every acknowledged publication must reach every client.
 */
export async function warmUp(clients: readonly DeliveryClient[], p: Publisher, steps: number): Promise<number> {
  await p.after(steps);
  const tops = p.tops();
  await Promise.all(clients.map((c) => c.until((x) => x.holds(topsOf(c, tops)), 10_000, 'the first publications')));
  return p.steps;
}

/**
 * Waits until every client holds the publisher's latest positions of its streams, then proves
 * with a round trip that nothing else (a late duplicate) was on its way. Returns what did not
 * arrive instead of throwing, so the report shows every client's gaps at once.
 */
export async function settle(clients: readonly DeliveryClient[], p: Publisher, timeoutMs = 20_000): Promise<string[]> {
  const tops = p.tops();
  const outcomes = await Promise.allSettled(
    clients.map(async (c) => {
      const want = topsOf(c, tops);
      await c.until((x) => x.holds(want), timeoutMs, `final positions ${JSON.stringify([...want])}`);
      await c.roundTrip();
    }),
  );
  return outcomes.flatMap((o) => (o.status === 'rejected' ? [(o.reason as Error).message] : []));
}

/** Every delivery problem of every client, after `settle`. */
export async function deliveryProblems(clients: readonly DeliveryClient[], p: Publisher, opts: CheckOptions): Promise<string[]> {
  const problems = await settle(clients, p);
  for (const c of clients) problems.push(...clientProblems(c, p, opts));
  return problems;
}
