import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { configProblems, namedIn } from '../../testing/config-problems.js';

const base = { JWT_SECRET: 'unit-jwt-secret-0123456789', LINK_SECRET: 'unit-link-secret-0123456789' };

const problemsOf = (env: Record<string, string>) => configProblems(loadConfig, env);
const named = namedIn;

describe('monolith config', () => {
  it('listens on loopback, HTTP 3000 and link 3001 by default', () => {
    expect(loadConfig(base, () => {})).toMatchObject({ MONOLITH_HOST: '127.0.0.1', MONOLITH_HTTP_PORT: 3000, MONOLITH_LINK_PORT: 3001, MONOLITH_LOG_LEVEL: 'info' });
  });

  it('an empty environment names every missing variable at once', () => {
    expect(named(problemsOf({}))).toEqual(['LINK_SECRET', 'JWT_SECRET']);
  });

  it('reports per-variable, file, topology and cross-variable problems together', () => {
    const problems = problemsOf({ ...base, MONOLITH_HTTP_PORT: '70000', LINK_TLS_CA: '/nonexistent/ca.pem', REDIS_URL: 'http://127.0.0.1:6379', REGISTRY_ADDRESS: 'm1:3001', REDIS_PORT: '6379' });
    expect(named(problems)).toEqual(['MONOLITH_HTTP_PORT', 'REDIS_PORT', 'REDIS_URL', 'LINK_TLS_CA', 'LINK_TLS_CA']);
  });

  it.each([
    ['MONOLITH_HOST', 'two words'],
    ['MONOLITH_HOST', '0.0.0.0.0'],
    ['JWKS_URL', 'ftp://issuer.example/jwks'],
    ['JWT_PUBLIC_KEY', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA user@host'],
  ])('refuses %s=%s, naming it', (name, value) => {
    expect(named(problemsOf({ ...base, [name]: value }))).toEqual([name]);
  });

  it('refuses the link port on the HTTP port, unless both pick a free one', () => {
    expect(problemsOf({ ...base, MONOLITH_HTTP_PORT: '4000', MONOLITH_LINK_PORT: '4000' })).toEqual(['MONOLITH_LINK_PORT must differ from MONOLITH_HTTP_PORT (both are 4000)']);
    expect(loadConfig({ ...base, MONOLITH_HTTP_PORT: '0', MONOLITH_LINK_PORT: '0' }, () => {}).MONOLITH_LINK_PORT).toBe(0);
  });

  it('still reads HOST, HTTP_PORT, LINK_PORT and LOG_LEVEL, with one warning each naming the new name', () => {
    const warnings: string[] = [];
    const config = loadConfig({ ...base, HOST: '::1', HTTP_PORT: '4100', LINK_PORT: '4101', LOG_LEVEL: 'warn' }, (line) => warnings.push(line));
    expect(config).toMatchObject({ MONOLITH_HOST: '::1', MONOLITH_HTTP_PORT: 4100, MONOLITH_LINK_PORT: 4101, MONOLITH_LOG_LEVEL: 'warn' });
    expect(warnings).toEqual([
      'HOST is deprecated: rename it MONOLITH_HOST (HOST is still read for now)',
      'HTTP_PORT is deprecated: rename it MONOLITH_HTTP_PORT (HTTP_PORT is still read for now)',
      'LINK_PORT is deprecated: rename it MONOLITH_LINK_PORT (LINK_PORT is still read for now)',
      'LOG_LEVEL is deprecated: rename it MONOLITH_LOG_LEVEL (LOG_LEVEL is still read for now)',
    ]);
  });

  it('ignores a shell\'s unprefixed HOST once MONOLITH_HOST is set', () => {
    const warnings: string[] = [];
    expect(loadConfig({ ...base, HOST: 'my-laptop', MONOLITH_HOST: '127.0.0.1' }, (line) => warnings.push(line)).MONOLITH_HOST).toBe('127.0.0.1');
    expect(warnings).toEqual(['HOST is deprecated and ignored: MONOLITH_HOST is set']);
  });

  it('warns of a misspelt prefixed variable, not of the balancer\'s (a shared environment)', () => {
    const warnings: string[] = [];
    loadConfig({ ...base, MONOLITH_HTTP_PROT: '3000', JWT_ISSUE: 'me', BALANCER_PORT: '8080', LINK_BACKOFF_MAX_MS: '500' }, (line) => warnings.push(line));
    expect(warnings).toEqual(['MONOLITH_HTTP_PROT is not a monolith setting; ignored (misspelt?)', 'JWT_ISSUE is not a monolith setting; ignored (misspelt?)']);
  });
});
