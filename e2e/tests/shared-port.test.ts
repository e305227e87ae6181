import { afterAll, describe, expect, it } from 'vitest';
import { parseReadyLine } from '@gateway/server-kit';
import {
  BALANCER_MAIN,
  JWT_SECRET,
  LINK_SECRET,
  ROOT,
  connect,
  freePort,
  metric,
  spawnProc,
  startBalancer,
  startMonolith,
  uniq,
  useHarness,
  userToken,
  waitFor,
  type MonolithHandle,
  type TestClient,
} from '../harness/index.js';
import { inBatches } from '../harness/gateway-http.js';

useHarness();

const toStop: Array<{ stop(): Promise<unknown> }> = [];
afterAll(async () => {
  await Promise.all(toStop.map((h) => h.stop()));
});

const CLIENTS = 60;

/** Opens `CLIENTS` authenticated sockets to `port`: the kernel picks a balancer for each. */
async function connectMany(port: number, room: string): Promise<TestClient[]> {
  const tokens = await Promise.all(Array.from({ length: CLIENTS }, () => userToken()));
  return inBatches(tokens, 20, async (token) => {
    const c = await connect(`ws://127.0.0.1:${port}/ws`);
    await c.auth(token, room);
    return c;
  });
}

const connections = (adminPort: number) => metric(`http://127.0.0.1:${adminPort}/metrics`, 'gateway_balancer_client_connections');

/** The balancer's environment for `monolith`, on a fixed client port. */
function env(monolith: MonolithHandle, port: number, extra: Record<string, string>): Record<string, string> {
  return {
    BALANCER_HOST: '127.0.0.1',
    BALANCER_PORT: String(port),
    ADMIN_PORT: '0',
    MONOLITHS: monolith.linkAddress,
    JWT_SECRET,
    LINK_SECRET,
    DRAIN_WINDOW_MS: '0',
    CONNECT_RATE_PER_IP: '1000000',
    CONNECT_BURST_PER_IP: '1000000',
    MAX_UNAUTHENTICATED_PER_IP: '1000000',
    ...extra,
  };
}

describe('several balancers on one port, on purpose only', () => {
  it('BALANCER_REUSE_PORT: two balancers share the port and both get clients; a third without it is refused', async () => {
    const monolith = await startMonolith();
    toStop.push(monolith);
    const port = await freePort();
    const shared = { BALANCER_PORT: String(port), BALANCER_REUSE_PORT: 'true' };
    const [a, b] = await Promise.all([startBalancer({ monoliths: [monolith], env: shared }), startBalancer({ monoliths: [monolith], env: shared })]);
    toStop.push(a, b);
    expect([a.port, b.port]).toEqual([port, port]);

    const clients = await connectMany(port, uniq('shared'));
    const counts = [await connections(a.adminPort), await connections(b.adminPort)];
    expect(counts[0]! + counts[1]!).toBe(CLIENTS);
    // The kernel hashes each connection's addresses and ports: 60 never all land on one of two.
    expect(Math.min(...counts)).toBeGreaterThan(0);
    expect(await monolith.metric('gateway_monolith_connections')).toBe(CLIENTS);

    const accidental = spawnProc('balancer accidental', process.execPath, [BALANCER_MAIN], env(monolith, port, { BALANCER_ID: 'accidental' }), ROOT);
    expect((await accidental.exited).code).toBe(2);
    expect(accidental.output('stderr')).toContain(`BALANCER_PORT ${port} is already in use on 127.0.0.1 (BALANCER_HOST): another process listens there`);
    for (const c of clients) c.close();
  });

  it('a balancer asking to share is refused while one without the setting holds the port', async () => {
    const monolith = await startMonolith();
    toStop.push(monolith);
    const port = await freePort();
    const exclusive = await startBalancer({ monoliths: [monolith], env: { BALANCER_PORT: String(port) } });
    toStop.push(exclusive);
    const sharer = spawnProc('balancer sharer', process.execPath, [BALANCER_MAIN], env(monolith, port, { BALANCER_ID: 'sharer', BALANCER_REUSE_PORT: 'true' }), ROOT);
    expect((await sharer.exited).code).toBe(2);
    expect(sharer.output('stderr')).toContain('(sharing a port needs BALANCER_REUSE_PORT=true in every process on it)');
  });

  it('BALANCER_WORKERS=2: one ready line naming both workers, /metrics per worker, clients on both, SIGTERM drains and exits', async () => {
    const monolith = await startMonolith();
    toStop.push(monolith);
    const port = await freePort();
    const id = uniq('bw');
    const primary = spawnProc(`balancer ${id}`, process.execPath, [BALANCER_MAIN], env(monolith, port, { BALANCER_ID: id, BALANCER_WORKERS: '2' }), ROOT);
    const ready = await primary.waitForLine((line) => (line.stream === 'stdout' ? parseReadyLine(line.text, 'balancer') : undefined), 20_000, 'ready line');
    expect(ready).toMatchObject({ id, port });
    const workers = ready.workers!;
    expect(workers.map((w) => w.id)).toEqual([`${id}-1`, `${id}-2`]);
    expect(new Set(workers.map((w) => w.adminPort)).size).toBe(2);
    // One ready line: the workers' own are the primary's to read, not forwarded.
    expect(primary.lines.filter((l) => l.text.startsWith('{"ready"'))).toHaveLength(1);
    await waitFor(async () => (await monolith.metric('gateway_monolith_links')) >= 2, { what: 'both workers linked' });

    const clients = await connectMany(port, uniq('workers'));
    const counts = await Promise.all(workers.map((w) => connections(w.adminPort)));
    expect(counts[0]! + counts[1]!).toBe(CLIENTS);
    expect(Math.min(...counts)).toBeGreaterThan(0);

    // A second group on the same port is refused by its primary before it forks anything.
    const second = spawnProc('balancer second group', process.execPath, [BALANCER_MAIN], env(monolith, port, { BALANCER_ID: 'second', BALANCER_WORKERS: '2' }), ROOT);
    expect((await second.exited).code).toBe(2);
    expect(second.output('stderr')).toContain(`BALANCER_PORT ${port} is already in use`);

    const closed = Promise.all(clients.map((c) => c.closed(15_000)));
    expect(await primary.stop(10_000)).toEqual({ code: 0, signal: null });
    expect((await closed).every((info) => info.code === 4000)).toBe(true);
    for (const w of workers) expect(() => process.kill(w.pid, 0)).toThrow();
  });
});
