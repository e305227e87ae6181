import { Agent, get } from 'node:http';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { CloseCode, CloseReason } from '@gateway/protocol';
import { connect, startBalancer, startMonolith, uniq, useHarness, userToken, waitFor, type TestClient } from '../harness/index.js';
import { broadcastTo, inBatches, metricSeries } from '../harness/gateway-http.js';
import { reconnectUntilWelcome, type Reconnected } from '../harness/reconnect.js';

useHarness();

const toStop: Array<{ stop(): Promise<unknown> }> = [];
afterAll(async () => {
  await Promise.all(toStop.map((h) => h.stop()));
});

/**
 * `GET /ready` over one kept-alive connection: a draining balancer stops accepting new
 * connections, so only a connection opened before the SIGTERM can still ask it.
 */
function keptAliveReady(http: string): { read(): Promise<{ status: number; body: Record<string, unknown> }>; close(): void } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return {
    read: () =>
      new Promise((resolve, reject) => {
        get(`${http}/ready`, { agent }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
        }).on('error', reject);
      }),
    close: () => agent.destroy(),
  };
}

describe('balancer drain (SIGTERM with DRAIN_WINDOW_MS)', () => {
  it('turns /ready 503, closes its clients with 4000 spread over the window, and they all reconnect to the other balancer', async () => {
    const WINDOW_MS = 3000;
    const N = 100;
    const monolith = await startMonolith();
    const [draining, other] = await Promise.all([
      startBalancer({ monoliths: [monolith], env: { DRAIN_WINDOW_MS: String(WINDOW_MS) } }),
      startBalancer({ monoliths: [monolith] }),
    ]);
    toStop.push(other, monolith);
    const room = uniq('drain');
    const tokens = await Promise.all(Array.from({ length: N }, () => userToken()));
    const closedAt = new Map<TestClient, number>();
    const clients = await inBatches(tokens, 20, async (token) => {
      const c = await connect(draining.url());
      await c.auth(token, room);
      c.ws.once('close', () => closedAt.set(c, performance.now()));
      return c;
    });
    expect(await monolith.metric('gateway_monolith_connections')).toBe(N);
    const probe = keptAliveReady(draining.http);
    expect(await probe.read()).toMatchObject({ status: 200, body: { ready: true, draining: false } });

    // Each client reconnects on its own as soon as it is closed, like a real one would.
    const urls = [draining.url(), other.url()];
    const reconnects = Promise.all(
      clients.map(async (c, i): Promise<Reconnected> => {
        const info = await c.closed(WINDOW_MS + 10_000);
        expect(info).toEqual({ code: CloseCode.DRAINING, reason: CloseReason.DRAINING });
        return reconnectUntilWelcome(urls, tokens[i]!, room);
      }),
    );
    // Rejections surface where it is awaited below, not as an unhandled rejection before.
    reconnects.catch(() => {});
    draining.proc.signal('SIGTERM');
    await waitFor(async () => {
      const r = await probe.read();
      return r.status === 503 && r.body.draining === true && r.body.ready === false;
    }, { what: '/ready 503 with draining: true' });
    probe.close();
    // Clients whose turn has not come are still served: a ping answers, unless the close comes first.
    const pings = await Promise.all(
      clients
        .filter((c) => !c.isClosed)
        .map((c) => c.request('ping', 'mid').then((m) => m.event, () => c.closed().then((info) => info.code))),
    );
    expect(pings.filter((p) => p !== 'pong' && p !== CloseCode.DRAINING)).toEqual([]);
    expect(pings).toContain('pong');
    // A new socket during the drain never gets in (refused, or upgraded and closed with 4000).
    const late = await connect(draining.url()).then(
      (c) => c.closed().then((info) => info.code),
      () => 'refused',
    );
    expect([CloseCode.DRAINING, 'refused']).toContain(late);

    const moved = await reconnects;
    expect((await draining.proc.exited).code).toBe(0);

    // Spread: not a burst. First-to-last covers at least half the window, and each quarter of
    // that span has at least 10% of the closes (an even spread gives 25% each).
    const times = [...closedAt.values()].sort((a, b) => a - b);
    expect(times.length).toBe(N);
    const first = times[0]!;
    const span = times.at(-1)! - first;
    expect(span).toBeGreaterThanOrEqual(WINDOW_MS * 0.5);
    const buckets = [0, 0, 0, 0];
    for (const t of times) buckets[Math.min(3, Math.floor(((t - first) / span) * 4))]!++;
    for (const b of buckets) expect(b, `closes per quarter: ${buckets.join(',')}`).toBeGreaterThanOrEqual(N * 0.1);

    // Everyone is back, on the other balancer, in the same room, and reachable there.
    for (const r of moved) {
      expect(r.url).toBe(other.url());
      expect(r.welcome.data.room).toBe(room);
    }
    expect(await other.metric('gateway_balancer_client_connections')).toBe(N);
    await waitFor(async () => (await monolith.metric('gateway_monolith_connections')) === N, { what: 'only the reconnected clients left on the monolith' });
    expect(await broadcastTo(monolith, room, 'back')).toBe(202);
    for (const r of moved) await r.client.nextEvent('back');
    for (const r of moved) r.client.close();
  }, 60_000);
});

describe('new-connection rate limit (CONNECT_RATE / CONNECT_BURST)', () => {
  it('upgrades the excess and closes it with 4002; those clients get in after a full-jitter back-off', async () => {
    const RATE = 20;
    const BURST = 10;
    const N = 40;
    const monolith = await startMonolith();
    const balancer = await startBalancer({ monoliths: [monolith], env: { CONNECT_RATE: String(RATE), CONNECT_BURST: String(BURST) } });
    toStop.push(balancer, monolith);
    const room = uniq('rate');
    const tokens = await Promise.all(Array.from({ length: N }, () => userToken()));

    const started = performance.now();
    // Every socket is upgraded (the connect resolves on `open`), refused ones included.
    const clients = await Promise.all(tokens.map(() => connect(balancer.url())));
    const elapsedS = (performance.now() - started) / 1000;
    const outcomes = await Promise.allSettled(clients.map((c, i) => c.auth(tokens[i]!, room)));
    const admitted = clients.filter((_, i) => outcomes[i]!.status === 'fulfilled');
    const refused = clients.filter((_, i) => outcomes[i]!.status === 'rejected');
    for (const c of refused) expect(await c.closed()).toEqual({ code: CloseCode.RATE_LIMITED, reason: CloseReason.RATE_LIMITED });
    // The bucket starts full and refills at RATE per second while the sockets arrive.
    expect(admitted.length).toBeGreaterThanOrEqual(BURST);
    expect(admitted.length).toBeLessThanOrEqual(BURST + Math.ceil(RATE * elapsedS) + 1);
    expect(refused.length).toBeGreaterThan(0);
    const closes = await metricSeries(balancer.admin, 'gateway_balancer_client_closes_total');
    expect(closes.find((s) => s.labels.code === String(CloseCode.RATE_LIMITED))?.value).toBe(refused.length);
    for (const c of admitted) expect(c.isClosed).toBe(false);

    // 4002 means reconnect: with back-off, every refused client gets in as the bucket refills.
    const retried = await Promise.all(
      refused.map((c) => reconnectUntilWelcome([balancer.url()], tokens[clients.indexOf(c)]!, room, { baseMs: 100, capMs: 2000 })),
    );
    for (const r of retried) expect(r.welcome.data.room).toBe(room);
    expect(await balancer.metric('gateway_balancer_client_connections')).toBe(N);
    expect(await monolith.metric('gateway_monolith_connections')).toBe(N);
    for (const c of [...admitted, ...retried.map((r) => r.client)]) c.close();
  }, 60_000);
});
