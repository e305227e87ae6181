import { describe, expect, it } from 'vitest';
import { ConfigError } from '@gateway/server-kit';
import { configProblems, namedIn } from '../../testing/config-problems.js';
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

describe('balancer config: every problem in one run', () => {
  const problemsOf = (env: Record<string, string>) => configProblems(loadConfig, env);
  const named = namedIn;

  it('an empty environment names every missing variable at once', () => {
    expect(named(problemsOf({}))).toEqual(['LINK_SECRET', 'JWT_SECRET', 'MONOLITHS']);
  });

  it('reports per-variable and cross-variable problems together', () => {
    const problems = problemsOf({ ...base, BALANCER_PORT: 'eighty', LINK_BACKOFF_MIN_MS: '900', LINK_BACKOFF_MAX_MS: '800', MONOLITHS: 'no-port', LINK_TLS_KEY: '/nonexistent/key.pem' });
    expect(named(problems)).toEqual(['BALANCER_PORT', 'MONOLITHS', 'LINK_BACKOFF_MAX_MS', 'LINK_TLS_KEY', 'LINK_TLS_CERT']);
  });

  it.each([
    ['BALANCER_HOST', 'not a host'],
    ['ADMIN_HOST', '127.0.0.1:9090'],
    ['JWKS_URL', 'jwks.example/keys'],
    ['JWT_PUBLIC_KEY', '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----'],
  ])('refuses %s=%s, naming it', (name, value) => {
    expect(named(problemsOf({ ...base, [name]: value }))).toEqual([name]);
  });

  it('refuses the admin port on the client port, unless both pick a free one', () => {
    expect(problemsOf({ ...base, BALANCER_PORT: '8080', ADMIN_PORT: '8080' })).toEqual(['ADMIN_PORT must differ from BALANCER_PORT (both are 8080)']);
    expect(loadConfig({ ...base, BALANCER_PORT: '0', ADMIN_PORT: '0' }).ADMIN_PORT).toBe(0);
  });

  it('reads LOG_LEVEL as BALANCER_LOG_LEVEL, with one warning', () => {
    const warnings: string[] = [];
    expect(loadConfig({ ...base, LOG_LEVEL: 'debug' }, (line) => warnings.push(line)).BALANCER_LOG_LEVEL).toBe('debug');
    expect(warnings).toEqual(['LOG_LEVEL is deprecated: rename it BALANCER_LOG_LEVEL (LOG_LEVEL is still read for now)']);
  });

  it('warns of a misspelt prefixed variable, not of the monolith\'s (a shared environment)', () => {
    const warnings: string[] = [];
    loadConfig({ ...base, BALANCER_PROT: '80', MONOLITH_DNS: 'monoliths.internal:3001', MONOLITH_HTTP_PORT: '3000' }, (line) => warnings.push(line));
    expect(warnings).toEqual(['BALANCER_PROT is not a balancer setting; ignored (misspelt?)']);
  });
});
