import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CloseCode } from '@gateway/protocol';
import { SessionState, TRANSITIONS } from '../balancer/src/session-states.js';
// @ts-expect-error plain .mjs generator without type declarations
import * as stateFigure from './client-connection-state.mjs';
// @ts-expect-error plain .mjs generator without type declarations
import * as architecture from './architecture.mjs';
// @ts-expect-error plain .mjs generator without type declarations
import * as scaleChart from './scale-chart.mjs';

const REGENERATE = 'regenerate with: npm run build && node figures/client-connection-state.mjs';
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

describe('figures/client-connection-state.svg', () => {
  const svg: string = stateFigure.render(TRANSITIONS, CloseCode);

  it('equals a fresh render of the balancer state table (it cannot drift)', () => {
    const committed = readFileSync(stateFigure.OUTPUT, 'utf8');
    expect(committed === svg, `the committed SVG is stale; ${REGENERATE}`).toBe(true);
  });

  it('shows every state and every event of TRANSITIONS', () => {
    for (const state of Object.values(SessionState)) expect(svg).toContain(`>${esc(state)}</text>`);
    for (const t of TRANSITIONS) expect(svg).toContain(`>${esc(t.on)}</text>`);
  });

  it('names the close code of every closing transition, with its number when catalogued', () => {
    for (const t of TRANSITIONS) {
      for (const name of (t.close ?? '').split('|').map((n) => n.trim()).filter(Boolean)) {
        const code = (CloseCode as Record<string, number>)[name];
        expect(svg).toContain(code === undefined ? name : `${name} ${code}`);
      }
    }
  });

  it('is well-formed enough to open: one root, balanced text elements', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<text /g)?.length).toBe(svg.match(/<\/text>/g)?.length);
  });
});

describe('figures/architecture.svg', () => {
  it('equals a fresh render', () => {
    const committed = readFileSync(architecture.OUTPUT, 'utf8');
    expect(committed === architecture.render(), 'stale; regenerate with: node figures/architecture.mjs').toBe(true);
  });
});

describe('figures/scale.svg', () => {
  it('equals a fresh render of figures/scale-results.json', () => {
    const data = JSON.parse(readFileSync(scaleChart.DATA, 'utf8'));
    expect(readFileSync(scaleChart.OUTPUT, 'utf8') === scaleChart.render(data), 'stale; regenerate with: node figures/scale-chart.mjs').toBe(true);
  });

  it('shows every step of the curve and its flatness verdict', () => {
    const data = JSON.parse(readFileSync(scaleChart.DATA, 'utf8'));
    const svg: string = scaleChart.render(data);
    for (const p of data.scaleCurve.points) expect(svg).toContain(`>${p.conns >= 1e4 ? `${Math.round(p.conns / 1e3)}k` : `${(p.conns / 1e3).toFixed(1)}k`}</text>`);
    expect(svg).toContain(`per-connection figures flat: ${data.scaleCurve.flatness.flat ? 'yes' : 'no'}`);
  });
});
