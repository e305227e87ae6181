import { describe, expect, it } from 'vitest';
import { createLog } from '@gateway/server-kit';
import { createDiscovery, dnsDiscovery } from './discovery.js';
import { waitFor } from '../../../testing/wait.js';

const log = createLog('test', 'error');

function first(d: ReturnType<typeof dnsDiscovery>): Promise<string[]> {
  return new Promise((resolve) => d.start((addresses) => resolve(addresses)));
}

describe('discovery', () => {
  it('reports the static list as is', async () => {
    const d = createDiscovery({ MONOLITHS: ['10.0.0.1:3001', 'm2:3001'], MONOLITH_DNS: undefined, DNS_POLL_MS: 1000, registry: undefined, REGISTRY_POLL_MS: 1000 }, log);
    expect(await first(d)).toEqual(['10.0.0.1:3001', 'm2:3001']);
  });

  it('follows records that change at run time (a headless service scaled up, then down), keeping the last set through a failed lookup', async () => {
    let records: Array<{ address: string; family: number }> = [{ address: '10.0.0.1', family: 4 }];
    let failing = false;
    let lookups = 0;
    const resolve = async () => {
      lookups++;
      if (failing) throw new Error('SERVFAIL');
      return records;
    };
    const seen: string[][] = [];
    const d = dnsDiscovery('monoliths.svc:3001', 1, log, resolve);
    d.start((addresses) => seen.push(addresses));
    try {
      await waitFor(() => seen.length === 1, { what: 'the first set' });
      records = [{ address: '10.0.0.2', family: 4 }, { address: '10.0.0.1', family: 4 }, { address: 'fd00::3', family: 6 }];
      await waitFor(() => seen.length === 2, { what: 'the scaled-up set' });
      failing = true;
      const before = lookups;
      await waitFor(() => lookups >= before + 3, { what: 'three failed lookups' });
      failing = false;
      records = [{ address: '10.0.0.2', family: 4 }];
      await waitFor(() => seen.length === 3, { what: 'the scaled-down set' });
      const settled = lookups;
      await waitFor(() => lookups >= settled + 3, { what: 'three more lookups of the same records' });
    } finally {
      d.stop();
    }
    // Sorted, IPv6 bracketed; a failed lookup reported nothing (no empty set); an unchanged set is not reported again.
    expect(seen).toEqual([['10.0.0.1:3001'], ['10.0.0.1:3001', '10.0.0.2:3001', '[fd00::3]:3001'], ['10.0.0.2:3001']]);
  });

  it('resolves A/AAAA records of a DNS name into link addresses', async () => {
    const d = dnsDiscovery('localhost:3001', 1000, log);
    const addresses = await first(d);
    d.stop();
    expect(addresses.length).toBeGreaterThan(0);
    for (const a of addresses) expect(a).toMatch(/^(127\.0\.0\.1|\[::1\]):3001$/);
  });
});
