import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { guildLogsStream, guildStream, Permission, roomStream } from '@gateway/protocol';
import { connect, startStack, uniq, useHarness, userToken, waitFor, type MonolithHandle, type Stack, type TestClient } from '../harness/index.js';
import { broadcastTo, inBatches, logEntry, postLog, readyOf } from '../harness/gateway-http.js';
import { RECOVER_ONLY, recoverLive, subscribers } from '../harness/streams.js';

useHarness();

// 2 balancers × 3 monoliths, 300 clients: 30 rooms of 10 (both balancers in every room), each
// client spectating one of three guilds with logs. A stream of log entries and room broadcasts
// runs through a surviving monolith's HTTP API while one monolith is killed or drained.
const ROOMS = 30;
const PER_ROOM = 10;
const GUILDS = ['610000000000000001', '620000000000000002', '630000000000000003'];
const VIEW_ALL = Permission.VIEW_PUBLIC_LOGS | Permission.VIEW_PRIVATE_LOGS;
/** Stream pace: one log entry and one room broadcast per step (a load rate, not a wait). */
const PACE_MS = 25;

interface Member {
  c: TestClient;
  room: string;
  guild: string;
  balancer: number;
  /** From the latest welcome. */
  monolith: string;
  affected: boolean;
}

interface Posted {
  n: number;
  key: string;
  id: string;
}

/** Posts log entries (guilds in turn) and `tick` broadcasts (rooms in turn) until stopped. */
class Stream {
  readonly logs: Posted[] = [];
  readonly ticks: Posted[] = [];
  readonly errors: string[] = [];
  steps = 0;
  private stopped = false;
  private readonly waiters: Array<{ at: number; wake: () => void }> = [];
  private readonly done: Promise<void>;

  constructor(
    private readonly via: MonolithHandle,
    private readonly rooms: readonly string[],
  ) {
    this.done = this.run();
  }

  /** Resolves once `more` further steps have been published. */
  after(more: number): Promise<void> {
    return new Promise((wake) => this.waiters.push({ at: this.steps + more, wake }));
  }

  stop(): Promise<void> {
    this.stopped = true;
    return this.done;
  }

  private async run(): Promise<void> {
    const base = BigInt(Date.now()) * 1000n;
    while (!this.stopped) {
      const n = this.steps;
      const guild = GUILDS[n % GUILDS.length]!;
      const room = this.rooms[n % this.rooms.length]!;
      const id = String(base + BigInt(n));
      const [logStatus, tickStatus] = await Promise.all([postLog(this.via, logEntry(guild, id)), broadcastTo(this.via, room, 'tick', { n })]);
      if (logStatus === 202) this.logs.push({ n, key: guild, id });
      else this.errors.push(`log ${n}: ${logStatus}`);
      if (tickStatus === 202) this.ticks.push({ n, key: room, id: String(n) });
      else this.errors.push(`tick ${n}: ${tickStatus}`);
      this.steps++;
      for (const w of this.waiters.filter((w) => w.at <= this.steps)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.wake();
      }
      await new Promise((resolve) => setTimeout(resolve, PACE_MS));
    }
  }
}

const logIds = (c: TestClient): string[] => c.received.filter((m) => m.event === 'log_other').map((m) => String(m.data.id));
const tickIds = (c: TestClient): string[] => c.received.filter((m) => m.event === 'tick').map((m) => String(m.data.n));
const count = (c: TestClient, event: string): number => c.received.filter((m) => m.event === event).length;

let stack: Stack | undefined;
let redis: Redis | undefined;
afterEach(async () => {
  redis?.disconnect();
  await stack?.stop();
  stack = undefined;
});

const numsub = (stream: string): Promise<number> => subscribers(redis!, stream);

/** Channel subscriptions in Redis match the members: one per monolith with spectators / per room. */
async function channelsMatchMembers(members: Member[]): Promise<void> {
  for (const guild of GUILDS) {
    const owners = new Set(members.filter((m) => m.guild === guild).map((m) => m.monolith)).size;
    await waitFor(async () => (await numsub(guildStream(guild))) === owners && (await numsub(guildLogsStream(guild))) === owners, {
      what: `guild ${guild} subscribed by exactly ${owners} monolith(s)`,
    });
  }
  for (const room of new Set(members.map((m) => m.room))) {
    await waitFor(async () => (await numsub(roomStream(room))) === 1, { what: `room ${room} subscribed by exactly one monolith` });
  }
}

async function fleet(s: Stack): Promise<Member[]> {
  const tag = uniq('fo');
  const plan = Array.from({ length: ROOMS * PER_ROOM }, (_, i) => ({
    room: `${tag}-r${Math.floor(i / PER_ROOM)}`,
    guild: GUILDS[i % GUILDS.length]!,
    balancer: i % 2,
  }));
  return inBatches(plan, 20, async (p) => {
    const c = await connect(s.balancers[p.balancer]!.url());
    const welcome = await c.auth(await userToken({ guilds: { [p.guild]: VIEW_ALL } }), p.room, 10_000);
    const reply = await c.request('spectate', 's0', { guild_id: p.guild, include_logs: true }, 10_000);
    expect(reply).toMatchObject({ event: 'spectate', data: { guild_id: p.guild, include_logs: true } });
    return { c, ...p, monolith: String(welcome.data.monolith), affected: false };
  });
}

/** Waits for the newest published item of each stream to reach `c`, then checks every item. */
async function checkDelivery(m: Member, stream: Stream, mark: number): Promise<void> {
  const checks: Array<[Posted[], (c: TestClient) => string[], string, string]> = [
    [stream.logs.filter((p) => p.key === m.guild), logIds, 'log_other', m.guild],
    [stream.ticks.filter((p) => p.key === m.room), tickIds, 'tick', m.room],
  ];
  for (const [posted, got, event, key] of checks) {
    const last = posted.at(-1)!;
    expect(last.n, `a ${event} for ${key} published after the mark`).toBeGreaterThanOrEqual(mark);
    await m.c.next((msg) => msg.event === event && String(event === 'tick' ? msg.data.n : msg.data.id) === last.id, 10_000);
    const ids = got(m.c);
    expect(new Set(ids).size, `no ${event} delivered twice to ${m.c.url} (${key})`).toBe(ids.length);
    const want = posted.filter((p) => !m.affected || p.n >= mark).map((p) => p.id);
    if (m.affected) expect(ids).toEqual(expect.arrayContaining(want));
    // A client whose monolith stayed loses nothing while another one fails.
    else expect(ids).toEqual(want);
  }
}

/**
 * The shared scenario: fleet, stream, `remove(victim)`, then every check. `remove` resolves
 * once the victim is gone (killed) or has been told to drain.
 */
async function failover(remove: (victim: MonolithHandle) => Promise<void>): Promise<{ victim: MonolithHandle; members: Member[] }> {
  // Moved clients get their room's ticks only by `recover`ing (RECOVER_ONLY).
  stack = await startStack({ monoliths: 3, balancers: 2, redis: true, monolithEnv: RECOVER_ONLY });
  redis = new Redis(stack.redis!.url);
  const members = await fleet(stack);
  const byMonolith = new Map(stack.monoliths.map((m) => [m.id, members.filter((x) => x.monolith === m.id)]));
  // Rooms land on all three monoliths (30 rooms by rendezvous hash).
  for (const [id, on] of byMonolith) expect(on.length, `clients on ${id}`).toBeGreaterThan(0);
  await channelsMatchMembers(members);

  const [victim, via] = [...stack.monoliths].sort((a, b) => byMonolith.get(b.id)!.length - byMonolith.get(a.id)!.length) as [MonolithHandle, MonolithHandle];
  const survivors = stack.monoliths.filter((m) => m !== victim).map((m) => m.id);
  for (const m of members) m.affected = m.monolith === victim.id;
  const stream = new Stream(via, [...new Set(members.map((m) => m.room))]);
  await stream.after(5);

  await remove(victim);
  await inBatches(
    members.filter((m) => m.affected),
    50,
    async (m) => {
      const welcome = await m.c.nextEvent('welcome', undefined, 15_000);
      expect(survivors).toContain(welcome.data.monolith);
      m.monolith = String(welcome.data.monolith);
      expect(await m.c.nextEvent('resync', undefined, 5000)).toMatchObject({ event: 'resync' });
      // The new owner joins the session to its room's stream on `recover`; channels of the lost
      // monolith are gone: the client re-spectates on the new one.
      await recoverLive(m.c, 'r1', 10_000);
      const reply = await m.c.request('spectate', 's1', { guild_id: m.guild, include_logs: true }, 10_000);
      expect(reply).toMatchObject({ event: 'spectate', data: { guild_id: m.guild } });
    },
  );
  // One owner per room: every member of a room names the same monolith.
  for (const room of new Set(members.map((m) => m.room))) {
    expect(new Set(members.filter((m) => m.room === room).map((m) => m.monolith)).size, `owners of ${room}`).toBe(1);
  }
  await channelsMatchMembers(members);
  // From here on every client must receive everything published for its guild and room.
  const mark = stream.steps;
  await stream.after(ROOMS + GUILDS.length);
  await stream.stop();
  expect(stream.errors).toEqual([]);
  await inBatches(members, 50, (m) => checkDelivery(m, stream, mark));

  // Nobody was disconnected; only the moved clients saw a second welcome and a resync.
  expect(members.filter((m) => m.c.isClosed).length).toBe(0);
  for (const m of members) {
    expect(count(m.c, 'welcome'), m.c.url).toBe(m.affected ? 2 : 1);
    expect(count(m.c, 'resync'), m.c.url).toBe(m.affected ? 1 : 0);
  }
  for (const b of stack.balancers) expect(await b.metric('gateway_balancer_client_connections')).toBe(members.length / 2);
  // Each survivor holds exactly the connections and rooms that name it: no ghost, no duplicate.
  for (const m of stack.monoliths.filter((x) => x !== victim)) {
    const mine = members.filter((x) => x.monolith === m.id);
    expect(await m.metric('gateway_monolith_connections'), `connections on ${m.id}`).toBe(mine.length);
    expect(await m.metric('gateway_monolith_rooms'), `rooms on ${m.id}`).toBe(new Set(mine.map((x) => x.room)).size);
  }
  for (const b of stack.balancers) expect((await readyOf(b.http)).body).toMatchObject({ ready: true, monoliths: 2 });
  return { victim, members };
}

describe('monolith failover with 300 clients on 2 balancers × 3 monoliths', () => {
  it('kill -9: its rooms move to survivors, no client is disconnected, pushes resume after re-spectating', async () => {
    const { members } = await failover(async (victim) => void (await victim.kill()));
    expect(members.filter((m) => m.affected).length).toBeGreaterThan(0);
    for (const m of members) m.c.close();
  }, 120_000);

  it('SIGTERM: it drains to the survivors the same way, then exits 0 once empty', async () => {
    let exited: Promise<{ code: number | null; signal: string | null }> | undefined;
    const { victim, members } = await failover(async (m) => {
      exited = m.stop(20_000);
    });
    expect(await exited).toEqual({ code: 0, signal: null });
    // It left because it was empty, not because DRAIN_TIMEOUT_MS ran out.
    expect(victim.proc.output().split('\n').some((line) => line.includes('"msg":"drained"') && line.includes('"left":0'))).toBe(true);
    expect(members.filter((m) => m.affected).length).toBeGreaterThan(0);
    for (const m of members) m.c.close();
  }, 120_000);
});
