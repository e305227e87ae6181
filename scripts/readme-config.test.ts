import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configTables } from './config-tables.mjs';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README configuration tables', () => {
  it('lists every balancer variable exactly as balancer/src/config.ts defines it', () => {
    expect(readme).toContain(configTables().balancer);
  });
  it('lists every monolith variable exactly as monolith/src/config.ts defines it', () => {
    expect(readme).toContain(configTables().monolith);
  });
});
