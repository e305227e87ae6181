import { describe, expect, it } from 'vitest';
import { ConfigError } from '@gateway/server-kit';
import { loadConfig } from './config.js';

const base = { JWT_SECRET: 'unit-jwt-secret-0123456789', LINK_SECRET: 'unit-link-secret-0123456789', MONOLITHS: '127.0.0.1:3001' };

describe('balancer config', () => {
  it('listens on loopback by default, the admin port on 9090', () => {
    const config = loadConfig(base);
    expect(config.BALANCER_HOST).toBe('127.0.0.1');
    expect(config.ADMIN_HOST).toBe('127.0.0.1');
    expect(config.ADMIN_PORT).toBe(9090);
    expect(loadConfig({ ...base, ADMIN_PORT: '0' }).ADMIN_PORT).toBe(0);
  });

  it('has the security limits on by default', () => {
    const config = loadConfig(base);
    expect(config.MAX_JSON_DEPTH).toBe(32);
    expect(config.MAX_UNAUTHENTICATED).toBeLessThan(config.MAX_CONNECTIONS);
    expect(config.MAX_UNAUTHENTICATED_PER_IP).toBe(50);
    expect(config.CONNECT_RATE_PER_IP).toBe(20);
    expect(config.CONNECT_BURST_PER_IP).toBe(50);
    expect(config.TRUSTED_PROXY_HEADER).toBeUndefined();
  });

  it.each([
    ['MAX_JSON_DEPTH', '0'],
    ['MAX_UNAUTHENTICATED_PER_IP', '0'],
    ['CONNECT_RATE_PER_IP', 'many'],
    ['ADMIN_PORT', '70000'],
  ])('refuses %s=%s', (name, value) => {
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(ConfigError);
  });
});
