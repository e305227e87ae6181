#!/usr/bin/env node
/**
 * Prints the README's configuration tables, generated from the services' config specs (built
 * dist). `scripts/readme-config.test.ts` fails when the README and these differ.
 *
 *   npm run build && node scripts/config-tables.mjs
 */
import { fileURLToPath } from 'node:url';
import { configTable } from '../protocol/dist/config-schema.js';
import { balancerSpec } from '../balancer/dist/config.js';
import { monolithSpec } from '../monolith/dist/config.js';

const header = ['| variable | default | meaning |', '| --- | --- | --- |'];

export function configTables() {
  return {
    balancer: [...header, ...configTable(balancerSpec)].join('\n'),
    monolith: [...header, ...configTable(monolithSpec)].join('\n'),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const t = configTables();
  process.stdout.write(`### Balancer\n\n${t.balancer}\n\n### Monolith\n\n${t.monolith}\n`);
}
