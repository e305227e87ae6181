#!/usr/bin/env node
/**
 * Draws the balancer's client connection state machine from its transition table.
 *
 *   npm run build && node figures/client-connection-state.mjs
 *
 * writes figures/client-connection-state.svg. figures/figures.test.ts renders the table again and
 * compares it with the committed file, so the picture cannot drift from the code.
 *
 * Layout (no graphviz): states are ranked by their distance from the first state along the
 * table's edges and laid out left to right; states with no way out (sinks, i.e. `closed`) sit in
 * a row underneath, and every edge into them is a vertical arrow. Edges that share a pair of
 * states are drawn once with their events stacked; self-loops are loops above the box.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FONT = 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';
const LABEL_PX = 11;
const CHAR_W = 6.7; // average advance of an 11px monospace glyph
const LINE_H = 15;
const BOX_W = 150;
const BOX_H = 44;
const PAD = 24;

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const textWidth = (s) => s.length * CHAR_W;

const CLOSE_LEAD = '  → close ';
const WRAP_CHARS = 46;

/** The close code names in a transition's `close` (alternatives are written `A | B`). */
const closeNames = (close) => (close ? close.split('|').map((n) => n.trim()).filter(Boolean) : []);

/**
 * Label lines for one transition: the event, then the close code(s) sent if it closes the
 * socket, wrapped so a column stays narrow. Close lines start with a space (drawn in red).
 */
function linesOf(t, closeCodes) {
  const names = closeNames(t.close);
  if (!names.length) return [t.on];
  const lines = [t.on];
  let line = CLOSE_LEAD;
  let onLine = 0;
  for (const [i, name] of names.entries()) {
    const code = closeCodes[name];
    const item = `${i ? '| ' : ''}${name}${code === undefined ? '' : ` ${code}`}`;
    if (onLine > 0 && line.length + item.length + 1 > WRAP_CHARS) {
      lines.push(line);
      line = ' '.repeat(CLOSE_LEAD.length);
      onLine = 0;
    }
    line += (onLine > 0 ? ' ' : '') + item;
    onLine += 1;
  }
  lines.push(line);
  return lines;
}

/** Footer lines; wildcard close names (`TOKEN_*`) are spelled out from the catalogue. */
function footnote(transitions, closeCodes) {
  const parts = ['Closing edges name the close code sent (protocol/src/close-codes.ts)'];
  const wild = [...new Set(transitions.flatMap((t) => closeNames(t.close)).filter((c) => c.endsWith('*')))];
  for (const w of wild) {
    const prefix = w.slice(0, -1);
    const names = Object.entries(closeCodes).filter(([name]) => name.startsWith(prefix));
    if (names.length) parts.push(`${w} is one of ${names.map(([n, c]) => `${n} ${c}`).join(', ')}`);
  }
  return parts.map((p) => p + '.');
}

function groupEdges(transitions) {
  const groups = new Map();
  for (const t of transitions) {
    const key = `${t.from}\u0000${t.to}`;
    if (!groups.has(key)) groups.set(key, { from: t.from, to: t.to, items: [] });
    groups.get(key).items.push(t);
  }
  return [...groups.values()];
}

/** Columns for the non-sink states (longest path from the start), and the list of sinks. */
function rank(transitions) {
  const states = [];
  for (const t of transitions) for (const s of [t.from, t.to]) if (!states.includes(s)) states.push(s);
  const out = new Map(states.map((s) => [s, new Set()]));
  for (const t of transitions) if (t.from !== t.to) out.get(t.from).add(t.to);
  const sinks = states.filter((s) => out.get(s).size === 0);
  const col = new Map([[states[0], 0]]);
  // Bellman-Ford style relaxation, capped so a cycle cannot loop forever.
  for (let round = 0; round < states.length; round++) {
    for (const t of transitions) {
      if (t.from === t.to || sinks.includes(t.to) || !col.has(t.from)) continue;
      const next = col.get(t.from) + 1;
      if (next < states.length && (col.get(t.to) ?? -1) < next) col.set(t.to, next);
    }
  }
  // States unreachable from the first one still get a column of their own at the end.
  let last = Math.max(...col.values());
  for (const s of states) if (!sinks.includes(s) && !col.has(s)) col.set(s, ++last);
  return { states, sinks, col };
}

/**
 * Renders the state diagram as SVG text.
 * @param {readonly {from: string, on: string, to: string, close?: string}[]} transitions
 * @param {Record<string, number>} [closeCodes] close code numbers by name, shown on closing edges
 */
export function render(transitions, closeCodes = {}) {
  const { sinks, col } = rank(transitions);
  const groups = groupEdges(transitions);
  const labels = (g) => g.items.flatMap((t) => linesOf(t, closeCodes));
  const selfLoops = groups.filter((g) => g.from === g.to);
  const toSinks = groups.filter((g) => g.from !== g.to && sinks.includes(g.to));
  const across = groups.filter((g) => g.from !== g.to && !sinks.includes(g.to));

  // Column width: room for the box, the labels of the arrows between columns, and the labels
  // hanging beside each vertical arrow down to the sink row.
  const widest = (gs) => Math.max(0, ...gs.flatMap(labels).map(textWidth));
  const colW = Math.ceil(Math.max(BOX_W + widest(across) + 40, widest(toSinks) + BOX_W / 2 + 30, widest(selfLoops) + 20));
  const columns = Math.max(...col.values()) + 1;

  const loopLines = Math.max(0, ...selfLoops.map((g) => labels(g).length));
  const sinkLines = Math.max(0, ...toSinks.map((g) => labels(g).length));
  const titleH = 40;
  const topY = titleH + PAD + loopLines * LINE_H + 34; // box row, under the loops and their labels
  const dropH = Math.max(90, sinkLines * LINE_H + 40);
  const sinkY = topY + BOX_H + dropH;
  const left = PAD + 24; // room for the initial-state stub arrow
  const width = left + columns * colW + PAD;
  const notes = footnote(transitions, closeCodes);
  const height = sinkY + BOX_H + PAD + notes.length * LINE_H + 6;

  const pos = new Map();
  for (const [s, c] of col) pos.set(s, { x: left + c * colW, y: topY, w: BOX_W, h: BOX_H });
  const sinkW = (width - PAD * 2) / Math.max(1, sinks.length);
  sinks.forEach((s, i) => pos.set(s, { x: PAD + i * sinkW + 10, y: sinkY, w: sinkW - 20, h: BOX_H }));

  const out = [];
  // SVG collapses leading blanks, so an indented (left-anchored) line is shifted instead.
  const text = (x, y, s, attrs = '') => {
    const indent = s.length - s.trimStart().length;
    const dx = attrs.includes('text-anchor') ? 0 : indent * CHAR_W;
    out.push(`  <text x="${(x + dx).toFixed(1)}" y="${y.toFixed(1)}"${attrs}>${esc(s.trim())}</text>`);
  };

  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}" font-size="${LABEL_PX}">`,
    '  <defs>',
    '    <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse">',
    '      <path d="M0,0 L10,5 L0,10 z" fill="#333"/>',
    '    </marker>',
    '  </defs>',
    `  <rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>`,
  );
  text(PAD, 26, 'Client connection states on the balancer', ' font-size="15" font-weight="bold"');
  text(PAD, 42, 'generated from TRANSITIONS in balancer/src/session-states.ts by figures/client-connection-state.mjs', ' fill="#666"');

  // Boxes.
  for (const [s, p] of pos) {
    const sink = sinks.includes(s);
    out.push(
      `  <rect x="${p.x.toFixed(1)}" y="${p.y.toFixed(1)}" width="${p.w.toFixed(1)}" height="${p.h}" rx="8" fill="${sink ? '#fbe9e7' : '#e8f0fe'}" stroke="${sink ? '#b23c17' : '#1a56b0'}" stroke-width="1.5"/>`,
    );
    text(p.x + p.w / 2, p.y + p.h / 2 + 5, s, ' font-size="14" font-weight="bold" text-anchor="middle"');
  }
  // Mark the initial state with an incoming stub arrow.
  const first = pos.get(transitions[0].from);
  out.push(
    `  <line x1="${(first.x - 22).toFixed(1)}" y1="${(first.y + first.h / 2).toFixed(1)}" x2="${first.x.toFixed(1)}" y2="${(first.y + first.h / 2).toFixed(1)}" stroke="#333" stroke-width="1.5" marker-end="url(#arrow)"/>`,
  );

  // Self-loops: a loop over the top of the box, its events stacked above it.
  for (const g of selfLoops) {
    const p = pos.get(g.from);
    const x1 = p.x + p.w * 0.3;
    const x2 = p.x + p.w * 0.7;
    const y = p.y;
    out.push(
      `  <path d="M${x1.toFixed(1)},${y} C${(x1 - 20).toFixed(1)},${y - 40} ${(x2 + 20).toFixed(1)},${y - 40} ${x2.toFixed(1)},${y}" fill="none" stroke="#333" stroke-width="1.3" marker-end="url(#arrow)"/>`,
    );
    labels(g).forEach((l, i, all) => text(p.x + p.w / 2, y - 36 - (all.length - 1 - i) * LINE_H, l, ' text-anchor="middle"'));
  }

  // Arrows between columns: straight, side to side; backward ones run lower so they do not overlap.
  for (const g of across) {
    const a = pos.get(g.from);
    const b = pos.get(g.to);
    const forward = b.x > a.x;
    const y = a.y + a.h / 2 + (forward ? 0 : 12);
    const x1 = forward ? a.x + a.w : a.x;
    const x2 = forward ? b.x : b.x + b.w;
    out.push(
      `  <line x1="${x1.toFixed(1)}" y1="${y.toFixed(1)}" x2="${x2.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#333" stroke-width="1.3" marker-end="url(#arrow)"/>`,
    );
    const mid = (x1 + x2) / 2;
    labels(g).forEach((l, i, all) =>
      text(mid, forward ? y - 6 - (all.length - 1 - i) * LINE_H : y + 14 + i * LINE_H, l, ' text-anchor="middle"'),
    );
  }

  // Arrows down into the sinks, events stacked beside them.
  for (const g of toSinks) {
    const a = pos.get(g.from);
    const b = pos.get(g.to);
    const x1 = a.x + a.w / 2;
    const x2 = Math.min(Math.max(x1, b.x + 10), b.x + b.w - 10);
    const y1 = a.y + a.h;
    out.push(
      `  <line x1="${x1.toFixed(1)}" y1="${y1.toFixed(1)}" x2="${x2.toFixed(1)}" y2="${b.y.toFixed(1)}" stroke="#b23c17" stroke-width="1.3" marker-end="url(#arrow)"/>`,
    );
    const lines = labels(g);
    const top = y1 + (b.y - y1 - lines.length * LINE_H) / 2 + 11;
    lines.forEach((l, i) => text(x1 + 8, top + i * LINE_H, l, l.startsWith(' ') ? ' fill="#b23c17"' : ''));
  }

  notes.forEach((n, i) => text(PAD, sinkY + BOX_H + PAD + 8 + i * LINE_H, n, ' fill="#666"'));
  out.push('</svg>');
  return out.join('\n') + '\n';
}

const here = dirname(fileURLToPath(import.meta.url));
export const OUTPUT = join(here, 'client-connection-state.svg');

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { TRANSITIONS } = await import('../balancer/dist/session-states.js');
  const { CloseCode } = await import('../protocol/dist/close-codes.js');
  writeFileSync(OUTPUT, render(TRANSITIONS, CloseCode));
  process.stdout.write(`wrote ${OUTPUT}\n`);
}
