import { describe, expect, it } from 'vitest';
import { requestSource, sourceKey } from './source-key.js';

describe('sourceKey', () => {
  it('keeps IPv4, unmaps IPv4-mapped IPv6, and groups IPv6 by /64', () => {
    expect(sourceKey('203.0.113.7')).toBe('203.0.113.7');
    expect(sourceKey(' 203.0.113.7 ')).toBe('203.0.113.7');
    expect(sourceKey('0000:0000:0000:0000:0000:ffff:7f00:0001')).toBe('127.0.0.1');
    expect(sourceKey('::ffff:198.51.100.2')).toBe('198.51.100.2');
    expect(sourceKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('0000:0000:0000:0000:0000:0000:0000:0001')).toBe('0:0:0:0::/64');
    expect(sourceKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });

  it('bounds what a forwarded header that is not an address can store', () => {
    expect(sourceKey('unknown')).toBe('unknown');
    expect(sourceKey('x'.repeat(500))).toHaveLength(64);
  });
});

describe('requestSource', () => {
  it('takes the last hop of a trusted proxy header, else the peer', () => {
    expect(requestSource('10.0.0.1', 'spoofed, 203.0.113.9')).toBe('203.0.113.9');
    expect(requestSource('10.0.0.1', ' 2001:db8:1:2::7 ')).toBe('2001:db8:1:2::/64');
    expect(requestSource('10.0.0.1', '')).toBe('10.0.0.1');
    expect(requestSource('10.0.0.1', 'a, ')).toBe('10.0.0.1');
    expect(requestSource('::ffff:10.0.0.1')).toBe('10.0.0.1');
  });
});
