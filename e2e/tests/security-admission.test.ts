import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode } from '@gateway/protocol';
import { connect, startBalancer, startMonolith, useHarness, userToken, waitFor, type MonolithHandle, type TestClient } from '../harness/index.js';

/**
 * Security audit, finding 5: with MAX_CONNECTIONS 200 and CONNECT_RATE 100/s, 200
 * unauthenticated loops from one host locked a legitimate user out (0 of 48 logins). Now
 * sockets that have not finished auth have their own budget per client address
 * (MAX_UNAUTHENTICATED_PER_IP) and balancer-wide (MAX_UNAUTHENTICATED), and each address has its
 * own connect rate (CONNECT_RATE_PER_IP).
 */

useHarness();

let monolith: MonolithHandle;

beforeAll(async () => {
  monolith = await startMonolith();
});
afterAll(async () => {
  await monolith?.stop();
});

const ATTACKER = '198.51.100.66';
const USER = '203.0.113.5';

/** Opens a socket that claims `address` through the proxy header; resolves once open. */
function from(url: string, address: string, firstHops = ''): Promise<TestClient> {
  return connect(url, { headers: { 'x-forwarded-for': firstHops ? `${firstHops}, ${address}` : address } });
}

/** Opens a socket and authenticates; resolves with 'welcome' or the close code. */
async function login(url: string, address: string, token: string): Promise<number | 'welcome'> {
  const c = await from(url, address);
  const outcome = await Promise.race([c.auth(token, undefined, 10_000).then(() => 'welcome' as const), c.closed(10_000).then((i) => i.code)]);
  c.close();
  return outcome;
}

describe('admission per source', () => {
  it('lets a legitimate user in while 200 unauthenticated loops from one address keep reconnecting', async () => {
    const balancer = await startBalancer({
      monoliths: [monolith],
      // The audit's limits; the per-address ones are the shipped defaults (20/s, burst 50, 50
      // unauthenticated), not the harness's.
      env: { MAX_CONNECTIONS: '200', CONNECT_RATE: '100', CONNECT_BURST: '200', TRUSTED_PROXY_HEADER: 'X-Forwarded-For' },
      omit: ['CONNECT_RATE_PER_IP', 'CONNECT_BURST_PER_IP', 'MAX_UNAUTHENTICATED_PER_IP'],
    });
    const url = balancer.url();
    let attacking = true;
    let attempts = 0;
    const refusals = new Map<number, number>();
    // Each loop opens a socket that never authenticates and opens another once it is closed. The
    // attacker also forges a first hop: only the last hop (what the proxy saw) counts.
    const loops = Array.from({ length: 200 }, async () => {
      while (attacking) {
        attempts++;
        const c = await from(url, ATTACKER, USER).catch(() => undefined);
        if (!c) continue;
        const { code } = await c.closed(30_000);
        refusals.set(code, (refusals.get(code) ?? 0) + 1);
      }
    });
    // The flood is at its cap before the user arrives.
    await waitFor(() => (refusals.get(CloseCode.RATE_LIMITED) ?? 0) >= 200, { what: '200 refusals of the flood' });
    const token = await userToken({ sub: 'legit' });
    const logins: Array<number | 'welcome'> = [];
    for (let i = 0; i < 48; i++) logins.push(await login(url, USER, token));
    attacking = false;
    // The flood's own sockets end at AUTH_TIMEOUT_MS (5 s) or when the harness closes them.
    expect(logins.filter((o) => o === 'welcome')).toHaveLength(48);
    expect(await balancer.metric('gateway_balancer_client_unauthenticated')).toBeLessThanOrEqual(50);
    expect([...refusals.keys()].filter((code) => code !== CloseCode.RATE_LIMITED && code !== CloseCode.AUTH_TIMEOUT)).toEqual([]);
    expect(attempts).toBeGreaterThan(200);
    await balancer.stop();
    // Every loop ends once its socket is closed and `attacking` is false.
    await Promise.all(loops);
  });

  it('limits the connect rate per address (CONNECT_RATE_PER_IP) and not across addresses', async () => {
    const balancer = await startBalancer({
      monoliths: [monolith],
      env: { CONNECT_RATE_PER_IP: '1', CONNECT_BURST_PER_IP: '3', TRUSTED_PROXY_HEADER: 'x-forwarded-for' },
    });
    const token = await userToken({ sub: 'rated' });
    const url = balancer.url();
    const a = [await login(url, '192.0.2.1', token), await login(url, '192.0.2.1', token), await login(url, '192.0.2.1', token)];
    expect(a).toEqual(['welcome', 'welcome', 'welcome']);
    expect(await login(url, '192.0.2.1', token)).toBe(CloseCode.RATE_LIMITED);
    // Another address has its own bucket; an IPv6 client is counted by its /64.
    expect(await login(url, '192.0.2.2', token)).toBe('welcome');
    for (let i = 0; i < 3; i++) expect(await login(url, `2001:db8:1:2::${i + 1}`, token)).toBe('welcome');
    expect(await login(url, '2001:db8:1:2:ffff::9', token)).toBe(CloseCode.RATE_LIMITED);
    await balancer.stop();
  });

  it('ignores a forwarded header unless TRUSTED_PROXY_HEADER names it (the TCP peer counts)', async () => {
    const balancer = await startBalancer({ monoliths: [monolith], env: { CONNECT_RATE_PER_IP: '1', CONNECT_BURST_PER_IP: '3' } });
    const token = await userToken({ sub: 'spoofer' });
    const url = balancer.url();
    const outcomes = [];
    for (let i = 0; i < 4; i++) outcomes.push(await login(url, `192.0.2.${10 + i}`, token));
    expect(outcomes).toEqual(['welcome', 'welcome', 'welcome', CloseCode.RATE_LIMITED]);
    await balancer.stop();
  });
});
