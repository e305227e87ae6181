import { describe, expect, it } from 'vitest';
import { ConfigError, configTable, loadSpec, readConfig, runtimeSpec, samePortProblem, v } from './config-schema.js';

const spec = {
  PORT: v.port('port', 8080),
  SECRET: v.string('secret', undefined, { minLength: 4 }),
  LIST: v.list('list'),
  FLAG: v.bool('flag', false),
  MODE: v.oneOf('mode', 'a', ['a', 'b'] as const),
  OPT: v.optional('optional'),
};

describe('readConfig', () => {
  it('applies defaults and parses values', () => {
    const c = readConfig(spec, { SECRET: 'abcd', LIST: 'x, y,,z', FLAG: 'true' });
    expect(c).toEqual({ PORT: 8080, SECRET: 'abcd', LIST: ['x', 'y', 'z'], FLAG: true, MODE: 'a', OPT: undefined });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('names every bad or missing variable in one error', () => {
    let error: unknown;
    try {
      readConfig(spec, { PORT: '70000', FLAG: 'maybe', MODE: 'c' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ['PORT', 'SECRET', 'FLAG', 'MODE']) expect(message).toContain(name);
    expect(message).not.toContain('LIST');
  });

  it('renders a README table row per variable', () => {
    const rows = configTable(spec);
    expect(rows).toHaveLength(6);
    expect(rows[1]).toContain('*(required)*');
  });
});

describe('loadSpec', () => {
  const service = {
    HOST: v.host('host', '127.0.0.1'),
    PORT: v.renamed('OLD_PORT', v.port('port', 8080)),
    ADMIN_PORT: v.port('admin port', 9090),
    KEY: v.string('key', undefined),
    // As every service spreads it: GATEWAY_EXIT_WITH_PARENT below is a setting, not a typo.
    ...runtimeSpec,
  };
  const load = (env: Record<string, string>, warnings: string[] = []) =>
    loadSpec('svc', service, env, (line) => warnings.push(line), (config, problems, failed) => {
      problems.push(...samePortProblem(config, 'PORT', 'ADMIN_PORT', failed));
      if (config.HOST === 'localhost') problems.push('HOST must not be localhost');
      return { ...config };
    });

  function problemsOf(run: () => unknown): string[] {
    try {
      run();
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  }

  it('runs the cross-variable checks even when a variable is bad, so one error has every problem', () => {
    const problems = problemsOf(() => load({ HOST: 'localhost', PORT: '9090', ADMIN_PORT: '9090' }));
    expect(problems).toEqual(['KEY is required: key', 'ADMIN_PORT must differ from PORT (both are 9090)', 'HOST must not be localhost']);
  });

  it('does not report a bad port as a clash too, and lets two 0 ports be', () => {
    expect(problemsOf(() => load({ KEY: 'k', PORT: 'x', ADMIN_PORT: '8080' }))).toEqual(['PORT must be an integer, got "x"']);
    expect(load({ KEY: 'k', PORT: '0', ADMIN_PORT: '0' })).toMatchObject({ PORT: 0, ADMIN_PORT: 0 });
  });

  it('reads a former name with one warning naming both, and names both in its problem', () => {
    const warnings: string[] = [];
    expect(load({ KEY: 'k', OLD_PORT: '81' }, warnings).PORT).toBe(81);
    expect(warnings).toEqual(['OLD_PORT is deprecated: rename it PORT (OLD_PORT is still read for now)']);
    expect(problemsOf(() => load({ KEY: 'k', OLD_PORT: 'eighty' }))).toEqual(['PORT (set as OLD_PORT) must be an integer, got "eighty"']);
  });

  it('prefers the new name when both are set, and warns that the old one is ignored', () => {
    const warnings: string[] = [];
    expect(load({ KEY: 'k', OLD_PORT: '81', PORT: '82' }, warnings).PORT).toBe(82);
    expect(warnings).toEqual(['OLD_PORT is deprecated and ignored: PORT is set']);
  });

  it('warns of each variable with a project prefix that no setting knows, and of nothing else', () => {
    const warnings: string[] = [];
    load({ KEY: 'k', BALANCER_PROT: '1', JWT_SECERT: 'x', GATEWAY_EXIT_WITH_PARENT: '1', HOME: '/root', OLD_PORT: '81' }, warnings);
    expect(warnings.filter((w) => w.includes('not a svc setting'))).toEqual([
      'BALANCER_PROT is not a svc setting; ignored (misspelt?)',
      'JWT_SECERT is not a svc setting; ignored (misspelt?)',
    ]);
  });

  it('returns what the checks built, frozen', () => {
    expect(Object.isFrozen(load({ KEY: 'k' }))).toBe(true);
  });
});

describe('v.host and v.url', () => {
  const host = v.host('host', '127.0.0.1');
  it.each(['127.0.0.1', '0.0.0.0', '::', '::1', 'fe80::1', 'localhost', 'gateway-1.internal', 'a.b.example.com.'])('accepts host %s', (raw) => {
    expect(host.parse(raw)).toBe(raw);
  });
  it.each(['', 'bad host', '[::1]', '999.1.1.1', '1.2.3', 'a..b', '-lead.example', 'trail-.example', 'http://x', `${'a'.repeat(64)}.example`])('refuses host "%s"', (raw) => {
    expect(() => host.parse(raw)).toThrow(/must be an IP address or a host name/);
  });

  const url = v.url('url', ['http:', 'https:']);
  it('accepts http(s) URLs, and unset', () => {
    expect(url.parse('https://issuer.example/.well-known/jwks.json')).toBe('https://issuer.example/.well-known/jwks.json');
    expect(url.parse('http://127.0.0.1:8000/jwks')).toBe('http://127.0.0.1:8000/jwks');
    expect(url.parse('')).toBeUndefined();
  });
  it.each(['issuer.example/jwks', 'ftp://issuer.example/jwks', 'file:///etc/jwks.json', 'https//x'])('refuses URL "%s"', (raw) => {
    expect(() => url.parse(raw)).toThrow('must be a URL starting with http:// or https://');
  });
});

describe('configTable with a renamed variable', () => {
  it('says the former name is still read', () => {
    const [row] = configTable({ NEW_NAME: v.renamed('OLD', v.port('A port.', 1)) });
    expect(row).toBe('| `NEW_NAME` | `1` | A port. Formerly `OLD`, still read (with a warning) while `NEW_NAME` is unset. |');
  });
});
