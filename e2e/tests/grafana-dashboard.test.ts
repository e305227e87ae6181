import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMetrics } from '@gateway/server-kit';
import { adminToken, connect, startStack, uniq, useHarness, userToken, waitFor, type Stack } from '../harness/index.js';

// The operator's dashboard (ops/grafana) against what the built services really export: a metric
// renamed in the code, or a label renamed under a `by (...)`, fails here instead of leaving an
// empty panel in production.

useHarness();

interface Target {
  refId?: string;
  expr?: string;
}
interface Panel {
  id?: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  schemaVersion: number;
  templating: { list: Array<{ name: string; type: string; query: string }> };
  panels: Panel[];
}

const DASHBOARD_FILE = new URL('../../ops/grafana/gateway-dashboard.json', import.meta.url);

/** Every panel, with those inside collapsed rows; rows themselves hold no query. */
function panelsOf(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]));
}

// Words of PromQL that stand where a metric name could: binary operators and modifiers.
const KEYWORDS = new Set(['and', 'or', 'unless', 'atan2', 'bool', 'offset', 'group_left', 'group_right', 'by', 'without', 'on', 'ignoring']);
const GROUPING = /\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;

/**
 * The metric names an expression selects: what is left once strings, label matchers, ranges,
 * grouping label lists, Grafana variables and numbers are removed, less function and aggregation
 * calls (an identifier followed by `(`) and keywords.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(GROUPING, ' ')
    .replace(/\$\{?\w+\}?/g, ' ')
    .replace(/(?<![\w:])\d[\w.+-]*/g, ' ');
  const names = new Set<string>();
  for (const [, name, call] of bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\(?)/g)) {
    if (!call && !KEYWORDS.has(name!)) names.add(name!);
  }
  return [...names].sort();
}

/** Label names an expression groups, joins or matches on. */
function labelNames(expr: string): string[] {
  const stripped = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const names = new Set<string>();
  for (const [, list] of stripped.matchAll(GROUPING)) for (const l of list!.split(',')) if (l.trim()) names.add(l.trim());
  for (const [, matchers] of stripped.matchAll(/\{([^}]*)\}/g)) for (const [, l] of matchers!.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) names.add(l!);
  return [...names].sort();
}

// Labels Prometheus adds to every series it scrapes, so no service exports them.
const TARGET_LABELS = new Set(['instance', 'job']);

/** `# TYPE` of every family in a Prometheus text exposition. */
function typesOf(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => [name!, type!]));
}

/** The exported family a selected name belongs to (`x_bucket` to histogram `x`), if any. */
function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name;
  const m = /^(.+)_(bucket|sum|count)$/.exec(name);
  if (!m) return undefined;
  const type = types.get(m[1]!);
  return type === 'histogram' || (type === 'summary' && m[2] !== 'bucket') ? m[1] : undefined;
}

interface Scrape {
  text: string;
  types: Map<string, string>;
}

/** What the dashboard selects that the scrape lacks, each as a line that says why. */
function problems(exprs: string[], scrape: Scrape): { unexported: string[]; unobserved: string[]; labels: string[] } {
  const unexported = new Set<string>();
  const unobserved = new Set<string>();
  const labels = new Set<string>();
  for (const expr of exprs) {
    const names = metricNames(expr);
    for (const name of names) {
      const family = familyOf(name, scrape.types);
      if (!family) unexported.add(name);
      // A histogram nobody observed plots nothing: the traffic below must reach every one.
      else if (scrape.types.get(family) === 'histogram' && !parseMetrics(scrape.text, `${family}_count`).some((s) => s.value > 0)) unobserved.add(family);
    }
    const seen = new Set(names.flatMap((n) => parseMetrics(scrape.text, n).flatMap((s) => Object.keys(s.labels))));
    for (const label of labelNames(expr)) if (!TARGET_LABELS.has(label) && !seen.has(label)) labels.add(`${label} in ${expr}`);
  }
  return { unexported: [...unexported].sort(), unobserved: [...unobserved].sort(), labels: [...labels].sort() };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
const exprs = panelsOf(dashboard).flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));

describe('the metric-name extraction', () => {
  it('keeps the metric names of an expression and drops functions, labels, strings and keywords', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, event) (rate(a_seconds_bucket{event="ping pong"}[$__rate_interval])))')).toEqual([
      'a_seconds_bucket',
    ]);
    expect(metricNames('rate(b_total[5m] offset 1h) * on (instance) group_left (service) c_info or vector(0)')).toEqual(['b_total', 'c_info']);
    expect(labelNames('sum by (reason) (x{code!="1000", family=~"room|user"}) * on (instance) group_left (service) y')).toEqual([
      'code',
      'family',
      'instance',
      'reason',
      'service',
    ]);
  });

  it('reports a renamed metric, and a histogram suffix on a family that is not a histogram', () => {
    const types = typesOf('# TYPE up_total counter\n# TYPE lat_seconds histogram\n# TYPE conns gauge\n');
    expect(familyOf('lat_seconds_bucket', types)).toBe('lat_seconds');
    expect(familyOf('up_total', types)).toBe('up_total');
    expect(familyOf('up_totals', types)).toBeUndefined();
    expect(familyOf('conns_count', types)).toBeUndefined();
  });
});

describe('ops/grafana/gateway-dashboard.json', () => {
  it('is a dashboard on a Prometheus data source variable, with a query in every panel', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }));
    const panels = panelsOf(dashboard);
    expect(panels.length).toBeGreaterThanOrEqual(15);
    const unqueried = panels.filter((p) => !p.targets?.length || p.targets.some((t) => !t.expr?.trim())).map((p) => p.title);
    expect(unqueried).toEqual([]);
    const elsewhere = panels.filter((p) => p.datasource?.uid !== '${datasource}').map((p) => p.title);
    expect(elsewhere).toEqual([]);
    const ids = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  describe('against the /metrics of a running balancer and monolith', () => {
    let stack: Stack;
    let scrape: Scrape;
    let found: ReturnType<typeof problems>;

    async function scrapeBoth(): Promise<Scrape> {
      const urls = [`${stack.balancers[0]!.admin}/metrics`, `${stack.monoliths[0]!.http}/metrics`];
      const texts = await Promise.all(
        urls.map(async (url) => {
          const res = await fetch(url);
          if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
          return res.text();
        }),
      );
      const text = texts.join('\n');
      return { text, types: typesOf(text) };
    }

    beforeAll(async () => {
      stack = await startStack({ monoliths: 1, balancers: 1 });
      const balancer = stack.balancers[0]!;
      const monolith = stack.monoliths[0]!;
      // Traffic for every histogram: a token check, a request, a publication fanned out, HTTP.
      const room = uniq('dash');
      const client = await connect(balancer.url());
      await client.auth(await userToken({ sub: uniq('u') }), room);
      expect(await client.request('ping', 1)).toMatchObject({ event: 'pong', _id: 1 });
      const res = await fetch(`${monolith.http}/api/rooms/${room}/broadcast`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await adminToken()}`, 'content-type': 'application/json' },
        body: JSON.stringify({ event: 'dashboard-check' }),
      });
      expect(res.status).toBe(202);
      await client.nextEvent('dashboard-check');
      expect((await fetch(`${monolith.http}/health`)).status).toBe(200);
      // A close, so the closes-by-code family has a series.
      client.close();
      await client.closed();
      // Link heartbeats and the close are counted asynchronously: poll until nothing is missing,
      // then let the tests below report whatever still is.
      await waitFor(
        async () => {
          scrape = await scrapeBoth();
          found = problems(exprs, scrape);
          return found.unexported.length + found.unobserved.length + found.labels.length === 0;
        },
        { timeoutMs: 10_000, what: 'every series the dashboard selects' },
      ).catch(() => undefined);
    });

    afterAll(async () => {
      await stack?.stop();
    });

    it('selects only metrics that one of the two services exports', () => {
      const names = [...new Set(exprs.flatMap(metricNames))];
      expect(names.length).toBeGreaterThanOrEqual(20);
      expect(found.unexported).toEqual([]);
      // The balancer's and the monolith's own families, and the runtime ones, are all in use.
      expect(names.some((n) => n.startsWith('gateway_balancer_'))).toBe(true);
      expect(names.some((n) => n.startsWith('gateway_monolith_'))).toBe(true);
      expect(names).toEqual(expect.arrayContaining(['gateway_build_info', 'nodejs_eventloop_lag_p99_seconds', 'process_cpu_seconds_total']));
    });

    it('has observations in every histogram it plots', () => {
      expect(found.unobserved).toEqual([]);
    });

    it('groups and matches only on labels the selected series carry', () => {
      expect(found.labels).toEqual([]);
    });

    it('would miss a renamed metric', () => {
      const renamed = exprs.map((e) => e.replace(/gateway_monolith_request_duration_seconds/g, 'gateway_monolith_request_seconds'));
      expect(problems(renamed, scrape).unexported).toContain('gateway_monolith_request_seconds_bucket');
    });
  });
});
