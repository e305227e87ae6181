import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs generator without type declarations
import * as chart from './bench-chart.mjs';

describe('figures/bench.svg', () => {
  it.runIf(existsSync(chart.DATA))('equals a fresh render of figures/bench-results.json, the data it shows', () => {
    const results = JSON.parse(readFileSync(chart.DATA, 'utf8'));
    const committed = readFileSync(chart.OUTPUT, 'utf8');
    expect(committed === chart.render(results), 'stale; redraw with: node figures/bench-chart.mjs').toBe(true);
  });

  it.runIf(existsSync(chart.DATA))('shows every system and names the command that measured it', () => {
    const results = JSON.parse(readFileSync(chart.DATA, 'utf8'));
    const svg: string = chart.render(results);
    for (const s of Object.values(results.systems) as Array<{ label: string }>) expect(svg).toContain(s.label.replace(/&/g, '&amp;'));
    expect(svg).toContain(results.command);
    expect(svg.match(/<text /g)?.length).toBe(svg.match(/<\/text>/g)?.length);
  });
});
