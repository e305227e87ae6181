import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '@gateway/protocol';
import { connect, startStack, useHarness, userToken, type BalancerHandle, type Stack } from '../harness/index.js';
import { metricSeries } from '../harness/gateway-http.js';

/**
 * Security audit, finding 7 (balancer parts): websocket pings bypassed MESSAGE_RATE (50,000 in
 * 2.4 s); invalid UTF-8 got a dropped TCP connection; `/metrics` on the public client port
 * listed internal addresses.
 */

useHarness();

let stack: Stack;
let balancer: BalancerHandle;

beforeAll(async () => {
  stack = await startStack({ monoliths: 1, balancers: 1, balancerEnv: { MESSAGE_RATE: '10', MESSAGE_BURST: '20' } });
  balancer = stack.balancers[0]!;
});
afterAll(async () => {
  await stack?.stop();
});

describe('websocket control frames', () => {
  it('counts pings against MESSAGE_RATE: a ping flood is closed with 4109, a neighbour is unaffected', async () => {
    const neighbour = await connect(balancer.url());
    await neighbour.auth(await userToken({ sub: 'neighbour' }));
    const flooder = await connect(balancer.url());
    await flooder.auth(await userToken({ sub: 'pinger' }));
    let pongs = 0;
    flooder.ws.on('pong', () => pongs++);
    for (let i = 0; i < 1000; i++) flooder.ws.ping();
    expect((await flooder.closed()).code).toBe(CloseCode.FLOOD);
    // The auth frame took one of 20 tokens, so 19 pings fit; uWS answers a ping before our
    // handler counts it, so the one that closes the socket gets its pong too: at most 20 of 1000.
    expect(pongs).toBeLessThanOrEqual(20);
    expect(await neighbour.request('ping', 1)).toMatchObject({ event: 'pong', _id: 1 });
    neighbour.close();
  });

  it('answers pings within the rate, like any frame', async () => {
    const c = await connect(balancer.url());
    await c.auth(await userToken({ sub: 'polite' }));
    const pong = new Promise<void>((resolve) => c.ws.once('pong', () => resolve()));
    c.ws.ping();
    await pong;
    expect(await c.request('ping', 1)).toMatchObject({ event: 'pong' });
    c.close();
  });
});

describe('invalid UTF-8 in a text frame', () => {
  it('is cut by uWS before the balancer sees it: the client reads 1006, not 1007 (documented in INVALID_UTF8)', async () => {
    const c = await connect(balancer.url());
    await c.auth(await userToken({ sub: 'bad-utf8' }));
    const before = (await metricSeries(balancer.admin, 'gateway_balancer_client_closes_total')).find((s) => s.labels.code === '1006')?.value ?? 0;
    // ws sends a Buffer as is with `binary: false`: a text frame holding 0xff 0xfe.
    c.ws.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
    const info = await c.closed();
    // uWS closes the TCP connection without a close frame (its close handler gets 1006,
    // "Received invalid UTF-8"); no handler of ours runs first, so 1007 cannot be sent.
    expect(info.code).toBe(1006);
    expect(info.code).not.toBe(CloseCode.INVALID_UTF8);
    const after = async () => (await metricSeries(balancer.admin, 'gateway_balancer_client_closes_total')).find((s) => s.labels.code === '1006')?.value ?? 0;
    expect(await after()).toBe(before + 1);
    // The session is gone from the balancer, and others are served.
    const other = await connect(balancer.url());
    await other.auth(await userToken({ sub: 'after-utf8' }));
    expect(await other.request('ping', 'é✓')).toMatchObject({ event: 'pong', _id: 'é✓' });
    other.close();
  });
});

describe('the admin port', () => {
  it('serves /metrics only on the admin port; /health and /ready are on both', async () => {
    expect((await fetch(`${balancer.http}/metrics`)).status).toBe(404);
    const metrics = await fetch(`${balancer.admin}/metrics`);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toContain('gateway_balancer_link_up{');
    expect(text).toContain('gateway_balancer_client_unauthenticated');
    for (const base of [balancer.http, balancer.admin]) {
      expect((await fetch(`${base}/health`)).status).toBe(200);
      const ready = await fetch(`${base}/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ ready: true, monoliths: 1 });
    }
    expect(balancer.adminPort).not.toBe(balancer.port);
  });

  it('binds both ports to loopback unless told otherwise', () => {
    const ready = balancer.proc.lines.map((l) => l.text).find((t) => t.includes('balancer listening'));
    // The harness sets BALANCER_HOST; ADMIN_HOST is left to its default.
    expect(JSON.parse(ready!)).toMatchObject({ host: '127.0.0.1', adminHost: '127.0.0.1', adminPort: balancer.adminPort });
  });
});
