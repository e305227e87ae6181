#!/usr/bin/env node
/**
 * Draws the scale curve (bench/scale/curve.mjs) as line panels over connections (log scale),
 * from a results JSON written by bench/run.mjs with the `scale-curve` scenario:
 *
 *   node figures/scale-chart.mjs                           redraws from figures/scale-results.json
 *   node figures/scale-chart.mjs bench/results/latest.json  copies that run's curve to
 *                                                           figures/scale-results.json, then draws
 *
 * writes figures/scale.svg. A full `npm run bench` calls write(results) itself. A dotted line
 * marks 1.2× the first step's value of each figure the target holds flat.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FONT, axis, esc, fmt, runAsScript } from './bench-chart.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const OUTPUT = join(here, 'scale.svg');
export const DATA = join(here, 'scale-results.json');
const FLAT_LIMIT = 1.2;
const COLORS = { balancer: '#1a56b0', monolith: '#b06000', all: '#202124', p99: '#5f6368' };

/** The panels: each has series of { label, color, dashed, limit, value(point) }. */
function panels(curve) {
  const c = (p) => p.fanout.closed;
  const b = (p) => p.fanout.burst;
  const cpu = (get) => [
    { label: 'all servers + Redis', color: COLORS.all, limit: true, value: (p) => get(p).cpuUsPerDelivery },
    { label: 'balancers', color: COLORS.balancer, value: (p) => get(p).usPerDeliveryByRole.balancer },
    { label: 'monolith', color: COLORS.monolith, value: (p) => get(p).usPerDeliveryByRole.monolith },
  ];
  return [
    {
      title: 'RSS bytes per connection',
      note: `after GC · ${curve.balancers} balancers summed · dashed: since the previous step`,
      series: [
        { label: 'balancers', color: COLORS.balancer, limit: true, value: (p) => p.bytesPerConn.balancer },
        { label: 'monolith', color: COLORS.monolith, limit: true, value: (p) => p.bytesPerConn.monolith },
        { label: 'balancers, step', color: COLORS.balancer, dashed: true, value: (p) => p.marginalBytesPerConn.balancer },
        { label: 'monolith, step', color: COLORS.monolith, dashed: true, value: (p) => p.marginalBytesPerConn.monolith },
      ],
    },
    { title: 'CPU µs per delivery, one broadcast at a time', note: 'closed loop: the next once everyone has one', series: cpu(c) },
    { title: 'CPU µs per delivery, burst', note: 'many broadcasts published at once', series: cpu(b) },
    {
      title: 'One broadcast to every connection: ms',
      note: 'closed loop · until the last connection has it',
      series: [
        { label: 'per broadcast', color: COLORS.all, value: (p) => c(p).msPerBroadcast },
        { label: 'p99 delivery', color: COLORS.p99, dashed: true, value: (p) => c(p).p99Ms },
      ],
    },
  ];
}

function drawPanel(out, panel, points, x0, y0, w, h) {
  const left = 46;
  const top = 46;
  const bottom = 40;
  const plotW = w - left - 16;
  const plotH = h - top - bottom;
  const values = panel.series.flatMap((s) => points.map((p) => s.value(p)).concat(s.limit ? [FLAT_LIMIT * s.value(points[0])] : []));
  const finite = values.filter(Number.isFinite);
  const { top: yTop, step } = axis(1.1 * Math.max(0, ...finite));
  // RSS can shrink between steps (the allocator returns pages): the axis goes below 0 then.
  const yBottom = -Math.ceil(-Math.min(0, ...finite) / step) * step;
  const y = (v) => y0 + top + plotH - ((v - yBottom) / (yTop - yBottom)) * plotH;
  const lo = Math.log10(points[0].conns);
  const hi = Math.log10(points.at(-1).conns);
  const x = (n) => x0 + left + 8 + (hi > lo ? ((Math.log10(n) - lo) / (hi - lo)) * (plotW - 16) : (plotW - 16) / 2);
  out.push(`<rect x="${x0}" y="${y0}" width="${w}" height="${h}" rx="6" fill="#ffffff" stroke="#dadce0"/>`);
  out.push(`<text x="${x0 + 10}" y="${y0 + 18}" font-size="12.5" font-weight="600" fill="#202124">${esc(panel.title)}</text>`);
  out.push(`<text x="${x0 + 10}" y="${y0 + 32}" font-size="10" fill="#80868b">${esc(panel.note)}</text>`);
  for (let v = yBottom; v <= yTop + step / 2; v += step) {
    out.push(`<line x1="${x0 + left}" x2="${x0 + left + plotW}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="${v === 0 ? '#9aa0a6' : '#eceff1'}"/>`);
    out.push(`<text x="${x0 + left - 5}" y="${(y(v) + 3.5).toFixed(1)}" font-size="9.5" text-anchor="end" fill="#5f6368">${esc(fmt(v))}</text>`);
  }
  for (const p of points) out.push(`<text x="${x(p.conns).toFixed(1)}" y="${y0 + h - 24}" font-size="10" text-anchor="middle" fill="#3c4043">${esc(fmt(p.conns))}</text>`);
  out.push(`<text x="${x0 + left + plotW / 2}" y="${y0 + h - 9}" font-size="9.5" text-anchor="middle" fill="#80868b">connections (log scale)</text>`);
  for (const s of panel.series) {
    const pts = points.map((p) => [x(p.conns), s.value(p)]).filter(([, v]) => Number.isFinite(v));
    const dash = s.dashed ? ' stroke-dasharray="5 3"' : '';
    if (s.limit && Number.isFinite(s.value(points[0]))) {
      const ly = y(FLAT_LIMIT * s.value(points[0])).toFixed(1);
      out.push(`<line x1="${x0 + left}" x2="${x0 + left + plotW}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-opacity="0.45" stroke-dasharray="1 3"><title>${esc(`${s.label}: ${FLAT_LIMIT}× the first step`)}</title></line>`);
    }
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${pts.map(([px, v]) => `${px.toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`);
    for (const [px, v] of pts) {
      out.push(`<circle cx="${px.toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.8" fill="${s.color}"><title>${esc(`${s.label}: ${v}`)}</title></circle>`);
      if (!s.dashed) out.push(`<text x="${(px + 4).toFixed(1)}" y="${(y(v) - 5).toFixed(1)}" font-size="9" fill="${s.color}">${esc(fmt(v))}</text>`);
    }
  }
  // Legend inside the panel, top right.
  panel.series.forEach((s, i) => {
    const ly = y0 + top + 4 + i * 13;
    const lx = x0 + w - 118;
    out.push(`<line x1="${lx}" x2="${lx + 16}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    out.push(`<text x="${lx + 20}" y="${ly + 3.5}" font-size="9.5" fill="#3c4043">${esc(s.label)}</text>`);
  });
}

/**
 * Renders the chart as SVG text.
 * @param {any} data figures/scale-results.json: `{ command, startedAt, host, source, scaleCurve }`
 */
export function render(data) {
  const curve = data.scaleCurve;
  const list = panels(curve);
  const pw = 330;
  const ph = 270;
  const gap = 14;
  const head = 50;
  const W = list.length * pw + (list.length + 1) * gap;
  const H = head + ph + 40;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT}">`);
  out.push(`<rect width="${W}" height="${H}" fill="#f8f9fa"/>`);
  out.push(`<text x="${gap}" y="24" font-size="16" font-weight="600" fill="#202124">Gateway scale curve: ${esc(fmt(curve.points[0].conns))} to ${esc(fmt(curve.points.at(-1).conns))} connections on one 2-core machine</text>`);
  const f = curve.flatness;
  const verdict = `${curve.balancers} balancer processes on one port (SO_REUSEPORT), 1 monolith, ${curve.workers} load-generator processes · dotted: ${f.limit}× the first step · per-connection figures flat: ${f.flat ? 'yes' : 'no'}`;
  out.push(`<text x="${gap}" y="41" font-size="11.5" fill="#3c4043">${esc(verdict)}</text>`);
  list.forEach((p, i) => drawPanel(out, p, curve.points, gap + i * (pw + gap), head, pw, ph));
  const h = data.host;
  const caption = `${data.command} · ${data.startedAt.slice(0, 10)} · ${h.cores} cores (${h.cpu}), Node ${h.node}, shared VM · commit ${data.source?.commit ?? '?'} · data: figures/scale-results.json · redraw: node figures/scale-chart.mjs`;
  out.push(`<text x="${gap}" y="${H - 14}" font-size="10.5" fill="#5f6368">${esc(caption)}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** The part of a run's results the chart and the README need. */
export function dataOf(results) {
  const { command, startedAt, host, source, scaleCurve } = results;
  if (!scaleCurve) throw new Error('these results have no scale curve (run: node bench/run.mjs --systems scale-curve)');
  return { command, startedAt, host, source, scaleCurve };
}

/** Writes figures/scale-results.json (the data) and figures/scale.svg (drawn from it). */
export function write(results) {
  const data = dataOf(results);
  writeFileSync(DATA, JSON.stringify(data, null, 2) + '\n');
  writeFileSync(OUTPUT, render(data));
}

runAsScript(import.meta.url, { DATA, OUTPUT, render, write });
