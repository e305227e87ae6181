import { lookup } from 'node:dns/promises';
import type { RedisTopology } from '@gateway/server-kit/redis';
import { pollingDiscovery } from './polling.js';
import { registryDiscovery } from './registry.js';
import type { Log } from '@gateway/server-kit';

/**
 * Where monolith link addresses come from. `start` reports the full current set whenever it
 * changes (never a diff), so a missed update is repaired by the next one.
 */
export interface Discovery {
  start(onChange: (addresses: string[]) => void): void;
  stop(): void;
}

export function staticDiscovery(addresses: readonly string[]): Discovery {
  return {
    start: (onChange) => onChange([...addresses]),
    stop: () => {},
  };
}

/** A name's addresses, as `dns.lookup(host, {all: true})` gives them (tests pass their own). */
export type Resolve = (host: string) => Promise<Array<{ address: string; family: number }>>;

/**
 * A `host:port` whose A and AAAA records are the monoliths (a Kubernetes headless service),
 * re-resolved every `pollMs`. A failed lookup keeps the last known set.
 */
export function dnsDiscovery(hostPort: string, pollMs: number, log: Log, resolve: Resolve = (host) => lookup(host, { all: true })): Discovery {
  const at = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, at).replace(/^\[|\]$/g, '');
  const port = hostPort.slice(at + 1);
  const read = async () => (await resolve(host)).map((r) => (r.family === 6 ? `[${r.address}]:${port}` : `${r.address}:${port}`));
  return pollingDiscovery(read, pollMs, log, { changed: 'dns discovery', failed: 'dns discovery lookup failed; keeping last set', fields: { host } });
}

export interface DiscoveryConfig {
  MONOLITHS: readonly string[];
  MONOLITH_DNS: string | undefined;
  DNS_POLL_MS: number;
  /** The registry's Redis (MONOLITH_REGISTRY set). */
  registry: RedisTopology | undefined;
  REGISTRY_POLL_MS: number;
}

/** The Redis registry when MONOLITH_REGISTRY is set, else DNS when MONOLITH_DNS is, else the static list. */
export function createDiscovery(config: DiscoveryConfig, log: Log): Discovery {
  if (config.registry) return registryDiscovery(config.registry, config.REGISTRY_POLL_MS, log);
  if (config.MONOLITH_DNS) return dnsDiscovery(config.MONOLITH_DNS, config.DNS_POLL_MS, log);
  return staticDiscovery(config.MONOLITHS);
}
