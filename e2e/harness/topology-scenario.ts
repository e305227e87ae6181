import { expect } from 'vitest';
import { ApiEvent, guildLogsStream, type StreamPosition } from '@gateway/protocol';
import { infoFields } from '../../testing/redis-topologies.js';
import { connect } from './client.js';
import type { DeliveryClient } from './delivery-client.js';
import { Publisher } from './delivery-publisher.js';
import { publisherProblems } from './delivery-report.js';
import { SCENARIO, deliveryProblems, spectators, warmUp } from './delivery-scenario.js';
import { putPool, readyOf } from './gateway-http.js';
import { roomOn } from './placement.js';
import type { Stack } from './stack.js';
import { userToken } from './tokens.js';
import { waitFor } from './wait.js';

// The delivery scenario (delivery-scenario.ts) across a fault of the Redis topology itself: a
// Cluster primary killed or a slot migrated, a Sentinel failover or primary kill. The monoliths
// stay up, so no spectator may notice anything but a pause: no close, no resync, no reload, every
// acknowledged publication once. Shared by redis-cluster.test.ts and redis-sentinel.test.ts.

const { SPECTATORS, PER_ROOM, STEPS, PACE_MS, ROOM_EVERY } = SCENARIO;
/** Longest any one wait of a fault scenario may take (a Sentinel failover alone takes ~11 s). */
const FAULT_TIMEOUT_MS = 45_000;
const RESUBSCRIBED = 'gateway_monolith_broker_resubscribed_total';

/** What a test file's afterEach hands to `endScenario`, filled in as the scenario gets there. */
export interface Running {
  stack?: Stack | undefined;
  publisher?: Publisher | undefined;
  clients: DeliveryClient[];
}

export interface TopologyFault {
  /** For the figures line, e.g. `cluster primary kill -9`. */
  name: string;
  /** The spectated guilds (their log streams; rooms are made by the scenario). */
  guilds: readonly string[];
  /** Of these streams, the ones the fault interrupts (their shard's primary dies, their slot moves); asked before it. */
  interrupted(streams: readonly string[]): Promise<string[]>;
  /** Pairs of [primary, replica] ports: the pool entities must be on the replicas before the fault. */
  replication(): Promise<Array<[number, number]>>;
  /**
   * Whether a monolith subscribed to an affected stream surely says 503 on /ready during the
   * fault: only where its subscription is lost for at least a second (a dead primary until its
   * replica is promoted), never for a blink (a slot migration, a +switch-master reconnect).
   */
  notReadyDuring: boolean;
  /** Runs the fault; calls `hit()` the moment it takes effect; resolves once the topology settled. */
  run(hit: () => void): Promise<void>;
}

interface FaultFigures {
  /** From the fault's start until every spectator of each affected guild stream held a publication acknowledged after the hit. */
  flowingAfterMs: number;
  /** From the fault's start until it took effect. */
  hitAfterMs: number;
  acked: number;
  /** Publishing answers other than 2xx (503 `unavailable`, timeouts), each retried with its key. */
  refused: number;
  lost: number;
  duplicated: number;
}

/** Waits until each replica has processed everything its primary had written when this was called. */
async function replicasCaughtUp(pairs: Array<[number, number]>): Promise<void> {
  for (const [primary, replica] of pairs) {
    const wrote = Number((await infoFields(primary, ['INFO', 'replication'])).master_repl_offset);
    await waitFor(async () => Number((await infoFields(replica, ['INFO', 'replication'])).master_repl_offset) >= wrote, {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: `replica ${replica} to reach offset ${wrote} of ${primary}`,
    });
  }
}

/** Received vs acknowledged per client and stream, from `firstStep` on: what deliveryProblems asserts, as counts for the figures. */
function tally(clients: readonly DeliveryClient[], p: Publisher, firstStep: number): { lost: number; duplicated: number } {
  let lost = 0;
  let duplicated = 0;
  for (const c of clients) {
    for (const stream of c.streams) {
      const got = new Map<string, number>();
      for (const m of c.log) if (m.kind === 'push' && m.stream === stream) got.set(`${m.epoch}|${m.offset}`, (got.get(`${m.epoch}|${m.offset}`) ?? 0) + 1);
      for (const n of got.values()) duplicated += n - 1;
      lost += p.acks.filter((a) => a.stream === stream && a.n >= firstStep && !got.has(`${a.epoch}|${a.offset}`)).length;
    }
  }
  return { lost, duplicated };
}

/**
 * Resolves once, for each stream, a publication acknowledged after `mark` (an index into
 * `p.acks`) has reached every client that follows the stream.
 */
async function flowingAgain(clients: readonly DeliveryClient[], p: Publisher, streams: readonly string[], mark: number): Promise<void> {
  const firstAfter = (stream: string) => {
    for (let i = mark; i < p.acks.length; i++) if (p.acks[i]!.stream === stream) return p.acks[i];
    return undefined;
  };
  await Promise.all(
    streams.map(async (stream) => {
      await p.until(() => firstAfter(stream) !== undefined, FAULT_TIMEOUT_MS, `publication on ${stream} acknowledged after the fault`);
      const { offset, epoch } = firstAfter(stream)!;
      const want = new Map<string, StreamPosition>([[stream, { offset, epoch }]]);
      await Promise.all(clients.filter((c) => c.streams.includes(stream)).map((c) => c.until((x) => x.holds(want), FAULT_TIMEOUT_MS, `${stream} flowing again after the fault`)));
    }),
  );
}

/** Polls every monolith's /ready back to back until `work` settles: how many answers, how many not 200. */
async function readyWhile(stack: Stack, work: Promise<unknown>): Promise<{ polls: number; notReady: number; seen: string[] }> {
  let done = false;
  void work.finally(() => (done = true)).catch(() => {});
  const counts = { polls: 0, notReady: 0, seen: [] as string[] };
  await Promise.all(
    stack.monoliths.map(async (m) => {
      while (!done) {
        counts.polls++;
        const answer = await readyOf(m.http);
        if (answer.status === 200) continue;
        counts.notReady++;
        counts.seen.push(`${m.id} ${answer.status} ${JSON.stringify(answer.body)}`);
      }
    }),
  );
  return counts;
}

/** Each monolith, through a client in a room placed on it, reads one pool entity of every guild. */
async function poolReads(stack: Stack, entities: ReadonlyMap<string, string>): Promise<void> {
  const token = await userToken({ guilds: Object.fromEntries([...entities.keys()].map((g) => [g, 0])) });
  for (const [i, m] of stack.monoliths.entries()) {
    const c = await connect(stack.balancers[i % stack.balancers.length]!.url());
    try {
      const welcome = await c.auth(token, roomOn(m, stack.monoliths, 'pool'));
      expect(welcome.data?.monolith, 'pool reader placed on its monolith').toBe(m.id);
      for (const [guild, id] of entities) {
        const reply = await c.request(ApiEvent.POOL_REQUEST, `pool-${guild}`, { type: 'member', guild_id: guild, ids: [id] });
        expect(reply, `pool_request of guild ${guild} on ${m.id}`).toMatchObject({ event: ApiEvent.POOL_RESPONSE, data: { finished: true, nonexistent: [], data: [{ id }] } });
      }
    } finally {
      c.close();
    }
  }
}

/**
 * 30 spectators with logs of `fault.guilds` (15 rooms of 2, one on each balancer) under 200+
 * numbered log entries and room broadcasts, each retried with its Idempotency-Key until
 * acknowledged; `fault` in the middle. Asserts that no spectator was closed, moved or told to
 * reload and that every acknowledged publication reached every spectator once; that new
 * spectators (after the fault) receive the same way; that both monoliths read pools and are
 * ready again; and, where `notReadyDuring`, that /ready said 503 while subscriptions were lost.
 */
export async function topologyFault(running: Running, stack: Stack, fault: TopologyFault): Promise<void> {
  running.stack = stack;
  // Pool entities first: their `log_pool` pushes are on streams the spectators do not follow.
  const entities = new Map(fault.guilds.map((g, i) => [g, `7${i}${Date.now() % 1e9}`]));
  for (const [guild, id] of entities) expect(await putPool(stack.monoliths[0]!, guild, 'member', { id, name: `probe ${id}` })).toBe(200);
  await replicasCaughtUp(await fault.replication());

  const joining = spectators(stack.balancers, { count: SPECTATORS, perRoom: PER_ROOM, guilds: fault.guilds });
  const joinReady = await readyWhile(stack, joining);
  // New streams being subscribed are not lost ones: readiness holds while spectators arrive.
  if (joinReady.seen.length) {
    // What each monolith logged about its broker, so that a failure here explains itself.
    const said = stack.monoliths.flatMap((m) => m.proc.output().split('\n').filter((l) => /broker|subscri|redis/i.test(l)).map((l) => `${m.id}: ${l}`));
    expect(joinReady.seen, `/ready answers other than 200 while spectators joined (of ${joinReady.polls} polls); the monoliths logged:\n${said.join('\n')}`).toEqual([]);
  }
  const clients = (running.clients = await joining);
  const rooms = [...new Set(clients.map((c) => c.spec.room))];
  const p = (running.publisher = new Publisher({ targets: stack.monoliths, guilds: fault.guilds, rooms, paceMs: PACE_MS, roomEvery: ROOM_EVERY }));
  p.start();
  const firstStep = await warmUp(clients, p, rooms.length * ROOM_EVERY);
  await p.after(20);

  const interrupted = new Set(await fault.interrupted([...new Set(clients.flatMap((c) => c.streams))]));
  const affectedGuilds = fault.guilds.filter((g) => interrupted.has(guildLogsStream(g)));
  const guildStreams = affectedGuilds.map(guildLogsStream);
  expect(guildStreams.length, 'spectated guild streams the fault interrupts').toBeGreaterThan(0);
  // What each monolith subscribes for its spectators and rooms, of the interrupted streams.
  const lostAt = new Map(stack.monoliths.map((m) => [m, new Set(clients.filter((c) => c.monolith === m.id).flatMap((c) => c.streams.filter((s) => interrupted.has(s))))]));
  const subscribed = stack.monoliths.filter((m) => lostAt.get(m)!.size > 0);
  expect(subscribed.length, 'monoliths subscribed to an interrupted stream').toBeGreaterThan(0);
  const resubscribedBefore = await Promise.all(subscribed.map((m) => m.metric(RESUBSCRIBED)));
  // Polled from before the fault: the outage it must see lasts at least the node timeout (1 s).
  const notReady = fault.notReadyDuring
    ? Promise.allSettled(
        subscribed.map((m) =>
          waitFor(async () => (await readyOf(m.http)).status === 503, { timeoutMs: FAULT_TIMEOUT_MS, intervalMs: 20, what: `${m.id} /ready 503 during the ${fault.name}` }),
        ),
      )
    : undefined;

  const startedAt = Date.now();
  let hitAt = 0;
  let isHit: (mark: number) => void = () => {};
  const hit = new Promise<number>((resolve) => (isHit = resolve));
  p.phase = 'fault';
  const flowing = hit.then((mark) => flowingAgain(clients, p, guildStreams, mark)).then(() => Date.now());
  flowing.catch(() => {}); // awaited below, once the fault is over
  await fault.run(() => {
    hitAt = Date.now();
    isHit(p.acks.length);
  });
  const flowingAt = await flowing;
  p.phase = 'steady';
  for (const outcome of (await notReady) ?? []) if (outcome.status === 'rejected') expect.fail((outcome.reason as Error).message);

  // New connections spectate on the new topology and receive like the others.
  const late = await spectators(stack.balancers, { count: 4, perRoom: PER_ROOM, guilds: affectedGuilds });
  running.clients = [...clients, ...late];
  const lateFirstStep = await warmUp(late, p, 10);
  await poolReads(stack, entities);
  await p.after(30);
  await p.until(() => p.steps >= STEPS, 30_000, `${STEPS} steps`);
  await p.stop();

  const figures: FaultFigures = {
    flowingAfterMs: flowingAt - startedAt,
    hitAfterMs: hitAt - startedAt,
    acked: p.acks.length,
    refused: p.attempts.filter((a) => a.status < 200 || a.status >= 300).length,
    ...[tally(clients, p, firstStep), tally(late, p, lateFirstStep)].reduce((a, b) => ({ lost: a.lost + b.lost, duplicated: a.duplicated + b.duplicated })),
  };
  console.log(
    `${fault.name}: took effect +${figures.hitAfterMs} ms, pushes on the ${guildStreams.length} affected guild streams flowing again +${figures.flowingAfterMs} ms; ` +
      `${figures.acked} acknowledged (${figures.refused} answers refused and retried), ${figures.lost} lost, ${figures.duplicated} duplicated, over ${clients.length}+${late.length} spectators ` +
      `(late ones' requests answered unavailable and retried: ${late.reduce((n, c) => n + c.retried.length, 0)}); ` +
      `before the fault, /ready answered other than 200 on ${joinReady.notReady} of ${joinReady.polls} polls while the spectators joined`,
  );

  // Pre-fault and settled answers are 2xx; during the fault only retries were refused.
  expect(publisherProblems(p, ['up', 'steady'])).toEqual([]);
  expect(await deliveryProblems(clients, p, { toldAllowed: false, firstStep })).toEqual([]);
  expect(await deliveryProblems(late, p, { toldAllowed: false, firstStep: lateFirstStep })).toEqual([]);
  for (const c of running.clients) {
    expect(c.closes, `${c.spec.label} stays connected`).toEqual([]);
    expect([c.welcomes, c.resyncs], `${c.spec.label} welcomes, resyncs: never moved`).toEqual([1, 0]);
  }
  for (const m of stack.monoliths) {
    await waitFor(async () => (await readyOf(m.http)).status === 200, { timeoutMs: 10_000, what: `${m.id} /ready 200 after the ${fault.name}` });
    expect(await m.metric('gateway_monolith_broker_up'), `${m.id} gateway_monolith_broker_up`).toBe(1);
  }
  // Each lost subscription was noticed and made again (its gap then read from history).
  for (const [i, m] of subscribed.entries()) {
    expect((await m.metric(RESUBSCRIBED)) - resubscribedBefore[i]!, `${m.id} streams re-subscribed (it follows ${[...lostAt.get(m)!].join(' ')})`).toBeGreaterThanOrEqual(lostAt.get(m)!.size);
  }
}
