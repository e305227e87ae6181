#!/usr/bin/env node
/**
 * Draws the side-by-side benchmark as grouped bars, one panel per measure, from a results JSON
 * written by bench/run.mjs:
 *
 *   node figures/bench-chart.mjs                           redraws from figures/bench-results.json
 *   node figures/bench-chart.mjs bench/results/latest.json  copies those results to
 *                                                           figures/bench-results.json, then draws
 *
 * writes figures/bench.svg. `npm run bench` calls write(results) itself after a run of all systems.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const OUTPUT = join(here, 'bench.svg');
export const DATA = join(here, 'bench-results.json');

export const FONT = 'system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif';
export const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLORS = { gateway: '#1a56b0', 'gateway-direct': '#8ab4f8', 'uws-raw': '#5f6368', 'uws-relay': '#a0a4a8', 'ws-loop': '#137333', socketio: '#b06000' };
export const fmt = (v) => {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e4) return `${Math.round(v / 1e3)}k`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  if (a >= 10) return String(Math.round(v));
  return v.toFixed(a >= 1 ? 1 : 2);
};

/** A round axis top and step above max: 4 steps of 1, 2, 2.5 or 5 × 10^n. */
export function axis(max) {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  return { top: Math.ceil(max / step) * step, step };
}

/** The panels: each has groups along x and one bar per series in each group. */
function panels(results) {
  const sys = Object.values(results.systems);
  const series = sys.map((s) => ({ key: s.name, label: s.label ?? s.name }));
  const sum = (o) => (o ? Object.values(o).reduce((a, b) => a + b, 0) : undefined);
  const concurrencies = results.config.concurrencies;
  const gw = results.systems.gateway;
  const rrSeries = gw?.direct ? [...series, { key: 'gateway-direct', label: 'gateway, direct to monolith' }] : series;
  const rrOf = (key, c) => (key === 'gateway-direct' ? gw.direct : results.systems[key]?.reqresp)?.find((r) => r.concurrency === c);
  const subs = (sys[0]?.fanout?.subscribers ?? 0).toLocaleString('en-US');
  const idleGroups = results.config.idle.map((n) => `${n.toLocaleString('en-US')} conns`);
  const fan = (k, mode) => results.systems[k]?.fanout?.[mode];
  const cs = concurrencies.map((c) => `c=${c}`);
  const cOf = (g) => Number(g.slice(2));
  return [
    { title: 'Fan-out, closed loop: deliveries/s', better: `higher is better · ${subs} subscribers, 2 processes`, series, groups: ['deliveries/s'], value: (k) => fan(k, 'closed')?.perSec },
    { title: 'Fan-out, closed loop: latency ms', better: 'lower is better · publish → receive', series, groups: ['p50', 'p99'], value: (k, g) => fan(k, 'closed')?.[`${g}Ms`] },
    { title: 'Fan-out, burst: deliveries/s', better: `higher is better · ${results.config.fanoutBurstMessages} messages at once`, series, groups: ['deliveries/s'], value: (k) => fan(k, 'burst')?.perSec },
    { title: 'Fan-out, burst: latency ms', better: 'lower is better · publish → receive', series, groups: ['p50', 'p99'], value: (k, g) => fan(k, 'burst')?.[`${g}Ms`] },
    { title: 'Server CPU µs per delivery', better: 'lower is better · all server processes + Redis', series, groups: ['closed loop', 'burst'], value: (k, g) => fan(k, g === 'burst' ? 'burst' : 'closed')?.cpuUsPerDelivery },
    { title: 'Ping → pong: round trips/s', better: 'higher is better · closed loop, c sockets', series: rrSeries, groups: cs, value: (k, g) => rrOf(k, cOf(g))?.perSec },
    { title: 'Ping → pong: p99 ms', better: 'lower is better', series: rrSeries, groups: cs, value: (k, g) => rrOf(k, cOf(g))?.p99Ms },
    { title: 'Server CPU µs per round trip', better: 'lower is better · all server processes + Redis', series: rrSeries, groups: cs, value: (k, g) => rrOf(k, cOf(g))?.cpuUsPerRt },
    { title: 'Idle RSS bytes per connection', better: 'lower is better · all server processes, after GC', series, groups: idleGroups, value: (k, g) => sum(results.systems[k]?.idle?.[idleGroups.indexOf(g)]?.bytesPerConn) },
    { title: 'Connect + auth (JWT) per second', better: `higher is better · up to ${results.config.idle.at(-1).toLocaleString('en-US')}`, series, groups: ['connections/s'], value: (k) => results.systems[k]?.connect?.perSec },
    { title: 'Reconnect storm: s until all back', better: `lower is better · ${results.config.stormClients.toLocaleString('en-US')} clients, server restarted`, series, groups: ['seconds'], value: (k) => results.systems[k]?.storm?.secondsToAllBack },
    { title: 'CPU cores in use, closed-loop fan-out', better: `of ${results.host.cores} · is the generator the limit?`, series, groups: ['servers', 'generator', 'others'], value: (k, g) => fan(k, 'closed')?.[{ servers: 'serverCores', generator: 'genCores', others: 'otherCores' }[g]] },
  ];
}

function drawPanel(out, p, x0, y0, w, h) {
  const left = 46;
  const top = 46;
  const bottom = 26;
  const plotW = w - left - 10;
  const plotH = h - top - bottom;
  const values = p.groups.flatMap((g) => p.series.map((s) => p.value(s.key, g)));
  // Headroom above the tallest bar for its rotated value label.
  const { top: yTop, step } = axis(1.15 * Math.max(0, ...values.filter(Number.isFinite)));
  const y = (v) => y0 + top + plotH - (v / yTop) * plotH;
  out.push(`<rect x="${x0}" y="${y0}" width="${w}" height="${h}" rx="6" fill="#ffffff" stroke="#dadce0"/>`);
  out.push(`<text x="${x0 + 10}" y="${y0 + 18}" font-size="12.5" font-weight="600" fill="#202124">${esc(p.title)}</text>`);
  out.push(`<text x="${x0 + 10}" y="${y0 + 32}" font-size="10" fill="#80868b">${esc(p.better)}</text>`);
  for (let v = 0; v <= yTop + step / 2; v += step) {
    out.push(`<line x1="${x0 + left}" x2="${x0 + left + plotW}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="${v === 0 ? '#9aa0a6' : '#eceff1'}"/>`);
    out.push(`<text x="${x0 + left - 5}" y="${(y(v) + 3.5).toFixed(1)}" font-size="9.5" text-anchor="end" fill="#5f6368">${esc(fmt(v))}</text>`);
  }
  const groupW = plotW / p.groups.length;
  const barW = Math.min(22, (groupW * 0.84) / p.series.length);
  p.groups.forEach((g, gi) => {
    const gx = x0 + left + gi * groupW + (groupW - barW * p.series.length) / 2;
    out.push(`<text x="${(x0 + left + gi * groupW + groupW / 2).toFixed(1)}" y="${y0 + h - 9}" font-size="10.5" text-anchor="middle" fill="#3c4043">${esc(g)}</text>`);
    p.series.forEach((s, si) => {
      const v = p.value(s.key, g);
      const bx = gx + si * barW;
      const cx = (bx + barW / 2).toFixed(1);
      if (!Number.isFinite(v)) {
        out.push(`<text x="${cx}" y="${(y(0) - 4).toFixed(1)}" font-size="8.5" text-anchor="middle" fill="#9aa0a6">n/a</text>`);
        return;
      }
      const by = y(Math.max(0, v));
      out.push(`<rect x="${(bx + 1).toFixed(1)}" y="${by.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(y(0) - by).toFixed(1)}" fill="${COLORS[s.key] ?? '#999'}"><title>${esc(`${s.label}, ${g}: ${v}`)}</title></rect>`);
      out.push(`<text transform="translate(${cx} ${(by - 3).toFixed(1)}) rotate(-90)" font-size="9" fill="#202124">${esc(fmt(v))}</text>`);
    });
  });
}

/**
 * Renders the chart as SVG text from a results object.
 * @param {any} results bench/run.mjs results (bench/results/*.json)
 */
export function render(results) {
  const list = panels(results);
  const cols = 4;
  const pw = 300;
  const ph = 240;
  const gap = 14;
  const W = cols * pw + (cols + 1) * gap;
  const legend = [...Object.values(results.systems).map((s) => ({ key: s.name, label: s.label ?? s.name })), ...(results.systems.gateway?.direct ? [{ key: 'gateway-direct', label: 'gateway, direct to monolith (hop price)' }] : [])];
  // Legend entries wrap onto more lines instead of running off the right edge.
  const placed = [];
  let lx = gap;
  let line = 0;
  for (const s of legend) {
    const width = 30 + s.label.length * 6.4;
    if (lx > gap && lx + width > W - gap) {
      lx = gap;
      line++;
    }
    placed.push({ ...s, x: lx, y: 34 + line * 18 });
    lx += width;
  }
  const legendH = 52 + line * 18;
  const rows = Math.ceil(list.length / cols);
  const H = legendH + rows * (ph + gap) + 30;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT}">`);
  out.push(`<rect width="${W}" height="${H}" fill="#f8f9fa"/>`);
  out.push(`<text x="${gap}" y="24" font-size="16" font-weight="600" fill="#202124">Realtime gateway vs. peers, same machine, same run</text>`);
  for (const s of placed) {
    out.push(`<rect x="${s.x}" y="${s.y}" width="12" height="12" fill="${COLORS[s.key] ?? '#999'}"/>`);
    out.push(`<text x="${s.x + 17}" y="${s.y + 10}" font-size="11.5" fill="#3c4043">${esc(s.label)}</text>`);
  }
  list.forEach((p, i) => drawPanel(out, p, gap + (i % cols) * (pw + gap), legendH + Math.floor(i / cols) * (ph + gap), pw, ph));
  const h = results.host;
  const caption = `${results.command} · ${results.startedAt.slice(0, 10)} · ${h.cores} cores (${h.cpu}), Node ${h.node}, shared and noisy VM · ${results.workers} load-generator processes · data: figures/bench-results.json · redraw: node figures/bench-chart.mjs`;
  out.push(`<text x="${gap}" y="${H - 18}" font-size="10.5" fill="#5f6368">${esc(caption)}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Writes figures/bench-results.json (the data) and figures/bench.svg (drawn from it). */
export function write(results) {
  writeFileSync(DATA, JSON.stringify(results, null, 2) + '\n');
  writeFileSync(OUTPUT, render(results));
}

/**
 * The command line of a chart script (this one and scale-chart.mjs): with no argument it redraws
 * `OUTPUT` from `DATA`; with a results file it writes both from it.
 */
export function runAsScript(moduleUrl, { DATA: data, OUTPUT: output, render: draw, write: save }) {
  if (!process.argv[1] || resolve(process.argv[1]) !== fileURLToPath(moduleUrl)) return;
  const from = process.argv[2] ? resolve(process.argv[2]) : data;
  const results = JSON.parse(readFileSync(from, 'utf8'));
  if (from === data) writeFileSync(output, draw(results));
  else save(results);
  process.stdout.write(`wrote ${output}\n`);
}

runAsScript(import.meta.url, { DATA, OUTPUT, render, write });
