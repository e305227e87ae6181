import { describe, expect, it } from 'vitest';
import { ConfigError, configTable, readConfig, v } from './config-schema.js';

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
