import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { CloseCode } from '@gateway/protocol';
import { connect, metric, startBalancer, startMonolith, useHarness, userToken, waitFor, type BalancerHandle, type MonolithHandle } from '../harness/index.js';

useHarness();

let monolith: MonolithHandle;

beforeAll(async () => {
  monolith = await startMonolith();
});
afterAll(async () => {
  await monolith?.stop();
});

describe('per-connection limits', () => {
  it('closes a client that sends faster than MESSAGE_RATE allows with 4109', async () => {
    const balancer = await startBalancer({ monoliths: [monolith], env: { MESSAGE_RATE: '1', MESSAGE_BURST: '5' } });
    const c = await connect(balancer.url());
    await c.auth(await userToken());
    const pings = 'gateway_monolith_request_duration_seconds_count{event="ping"}';
    const before = await monolith.metric(pings).catch(() => 0);
    // The auth frame took one token; a burst of 20 more cannot fit in the remaining 4.
    for (let i = 0; i < 20; i++) c.send({ event: 'ping', _id: i });
    expect((await c.closed()).code).toBe(CloseCode.FLOOD);
    // Exactly the 4 pings inside the burst reached the monolith; the 5th closed the socket.
    await waitFor(async () => (await monolith.metric(pings).catch(() => 0)) - before >= 4, { what: 'the 4 pings inside the burst handled' });
    expect((await monolith.metric(pings)) - before).toBe(4);
    await balancer.stop();
  });

  it('closes a client that does not read with 4003 (slow consumer) and keeps others served', async () => {
    const balancer = await startBalancer({
      monoliths: [monolith],
      env: { MAX_BACKPRESSURE_BYTES: '65536', MESSAGE_RATE: '10000', MESSAGE_BURST: '10000' },
    });
    const slow = await connect(balancer.url());
    await slow.auth(await userToken({ sub: 'slowpoke' }));
    const healthy = await connect(balancer.url());
    await healthy.auth(await userToken({ sub: 'healthy' }));

    // Stop reading: the kernel buffers fill, then the balancer's send buffer for this socket.
    const socket = (slow.ws as unknown as { _socket: Socket })._socket;
    socket.pause();
    const pad = 'x'.repeat(48 * 1024);
    const closes = `${balancer.admin}/metrics`;
    await waitFor(
      async () => {
        for (let i = 0; i < 20; i++) slow.send({ event: 'ping', data: pad });
        return (await metric(closes, `gateway_balancer_client_closes_total{code="${CloseCode.SLOW_CONSUMER}"}`).catch(() => 0)) >= 1;
      },
      { timeoutMs: 20_000, what: 'a slow-consumer close on the balancer' },
    );
    socket.resume();
    expect((await slow.closed(10_000)).code).toBe(CloseCode.SLOW_CONSUMER);
    expect(await healthy.request('ping', 1)).toMatchObject({ event: 'pong', _id: 1 });
    await balancer.stop();
  });
});

describe('upgrade limits', () => {
  it('closes sockets past MAX_CONNECTIONS with 4005 (reconnect) and serves again once one closes', async () => {
    const balancer = await startBalancer({ monoliths: [monolith], env: { MAX_CONNECTIONS: '2' } });
    const a = await connect(balancer.url());
    const b = await connect(balancer.url());
    // Upgraded, then closed with a catalogued reconnect code: a bare HTTP 503 reads as 1006.
    const third = await connect(balancer.url());
    expect((await third.closed()).code).toBe(CloseCode.SERVER_FULL);
    a.close();
    await a.closed();
    const token = await userToken();
    const c = await waitFor(
      async () => {
        const x = await connect(balancer.url());
        const outcome = await Promise.race([x.auth(token).then(() => 'welcome'), x.closed().then((info) => info.code)]);
        return outcome === 'welcome' ? x : undefined;
      },
      { what: 'a free connection slot' },
    );
    expect(c.isClosed).toBe(false);
    b.close();
    c.close();
    await balancer.stop();
  });

  it('refuses a browser Origin not in ALLOWED_ORIGINS and admits a listed one', async () => {
    const balancer: BalancerHandle = await startBalancer({ monoliths: [monolith], env: { ALLOWED_ORIGINS: 'https://app.example' } });
    const good = await connect(balancer.url(), { headers: { origin: 'https://app.example' } });
    await good.auth(await userToken());
    // Closed with the terminal 4111 right after the upgrade, so a browser stops retrying.
    const evil = await connect(balancer.url(), { headers: { origin: 'https://evil.example' } });
    expect((await evil.closed()).code).toBe(CloseCode.ORIGIN_NOT_ALLOWED);
    expect(await good.request('ping', 1)).toMatchObject({ event: 'pong', _id: 1 });
    good.close();
    await balancer.stop();
  });
});
