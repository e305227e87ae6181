import { isIPv4, isIPv6 } from 'node:net';

/** Longest source key kept; a forwarded header is the client's to fill when no proxy strips it. */
const MAX_SOURCE_LENGTH = 64;

/**
 * The key a client address is counted under by per-source limits (the balancer's admission, the
 * monolith's guest tokens): an IPv4 address as is (also when IPv4-mapped in IPv6), an IPv6
 * address by its /64 prefix (one host or home network usually has a whole /64, so counting single
 * addresses would limit nothing), anything else (a proxy header that is not an address) as its
 * first 64 characters.
 */
export function sourceKey(address: string): string {
  const text = address.trim();
  if (isIPv4(text)) return text;
  if (!isIPv6(text)) return text.slice(0, MAX_SOURCE_LENGTH);
  const groups = expandIPv6(text);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`;
  }
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::`, a zone and a dotted IPv4 tail expanded). */
function expandIPv6(text: string): number[] {
  let s = text.replace(/%.*$/, '');
  const last = s.lastIndexOf(':');
  if (s.includes('.', last)) {
    const [a, b, c, d] = s.slice(last + 1).split('.').map(Number) as [number, number, number, number];
    s = `${s.slice(0, last + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const groups = (part: string | undefined): number[] => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const left = groups(head);
  if (tail === undefined) return left;
  const right = groups(tail);
  return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * The source key of a request: the last hop of a trusted proxy's header (`x-forwarded-for`:
 * the proxy appends the peer it saw, so only the last entry is not the client's to write) when
 * one is configured and present, else the TCP peer address.
 */
export function requestSource(peer: string, forwarded?: string | undefined): string {
  if (forwarded !== undefined) {
    const last = forwarded.slice(forwarded.lastIndexOf(',') + 1).trim();
    if (last !== '') return sourceKey(last);
  }
  return sourceKey(peer);
}
