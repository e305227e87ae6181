/**
 * The Redis monolith registry (discovery without a static list or DNS): one sorted set whose
 * members are `<monolith id> <link host:port>` scored by the time (ms since the epoch) the entry
 * expires. Monoliths re-add themselves every third of the TTL; balancers read the unexpired
 * members. A monolith that dies simply stops renewing; one that drains removes itself.
 */
export const REGISTRY_KEY = 'gw:monoliths';

export function registryMember(id: string, linkAddress: string): string {
  return `${id} ${linkAddress}`;
}

export function registryAddress(member: string): string {
  return member.slice(member.indexOf(' ') + 1);
}
