import { describe, expect, it } from 'vitest';
import { createLog } from '@gateway/server-kit';
import { createDiscovery, dnsDiscovery } from './discovery.js';

const log = createLog('test', 'error');

function first(d: ReturnType<typeof dnsDiscovery>): Promise<string[]> {
  return new Promise((resolve) => d.start((addresses) => resolve(addresses)));
}

describe('discovery', () => {
  it('reports the static list as is', async () => {
    const d = createDiscovery({ MONOLITHS: ['10.0.0.1:3001', 'm2:3001'], MONOLITH_DNS: undefined, DNS_POLL_MS: 1000, registry: undefined, REGISTRY_POLL_MS: 1000 }, log);
    expect(await first(d)).toEqual(['10.0.0.1:3001', 'm2:3001']);
  });

  it('resolves A/AAAA records of a DNS name into link addresses', async () => {
    const d = dnsDiscovery('localhost:3001', 1000, log);
    const addresses = await first(d);
    d.stop();
    expect(addresses.length).toBeGreaterThan(0);
    for (const a of addresses) expect(a).toMatch(/^(127\.0\.0\.1|\[::1\]):3001$/);
  });
});
