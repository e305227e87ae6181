#!/usr/bin/env node
/**
 * Prints the README's configuration tables, generated from the services' config specs (built
 * dist). `scripts/readme-config.test.ts` fails when the README and these differ.
 *
 *   npm run build && node scripts/config-tables.mjs [--write]
 *
 * With --write, replaces the README's text between the config-tables markers.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configTable } from '../server-kit/dist/config-schema.js';
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
  const text = `### Balancer\n\n${t.balancer}\n\n### Monolith\n\n${t.monolith}\n`;
  if (!process.argv.includes('--write')) {
    process.stdout.write(text);
  } else {
    const readme = new URL('../README.md', import.meta.url);
    const before = readFileSync(readme, 'utf8');
    const after = before.replace(/(<!-- config-tables:start -->\n)[\s\S]*?(<!-- config-tables:end -->)/, `$1${text}$2`);
    if (after === before && !before.includes(text)) throw new Error('README has no config-tables markers');
    writeFileSync(readme, after);
  }
}
