import { readFileSync } from 'node:fs';
import { collectDefaultMetrics, Gauge, Registry, type Metric as PromMetric } from 'prom-client';

/**
 * Metrics on prom-client (the registry Node operators know), with its default process and
 * runtime metrics (CPU, memory, heap, GC, event-loop lag) and `<prefix>build_info`.
 *
 * Hot paths never call into prom-client: `counter()` and `gauge()` return a plain `Series`
 * whose `value` is a property write, copied into prom-client only at scrape time (a collect
 * callback); `collect()` families are read at scrape time too. Histograms (`histogram()`) are
 * observed per request (one per client round trip at the monolith), so they are this module's
 * own too: an observation is a bucket scan, one counter increment and two field writes, and the registry reads the
 * buckets at scrape time (prom-client's own histogram hashes the labels on every observation).
 */
type Kind = 'counter' | 'gauge';

export interface Series {
  value: number;
}

/** Labelled series of one family, copied into its prom-client metric at scrape time. */
interface Family {
  metric: Gauge;
  kind: Kind;
  series: Map<string, { labels: Record<string, string>; s: Series }>;
  read?: () => Iterable<[labels: Record<string, string>, value: number]>;
}

/** Default buckets for latencies, in seconds: 0.5 ms to 10 s. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface MetricsOptions {
  /** Service name for `build_info` (`balancer`, `monolith`). */
  service?: string;
  /** Package version for `build_info`. */
  version?: string;
  /** Register prom-client's default process and Node.js metrics (off in unit tests). */
  defaults?: boolean;
}

const keyOf = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export class Metrics {
  readonly registry = new Registry();
  private readonly families = new Map<string, Family>();

  constructor(opts: MetricsOptions = {}) {
    if (opts.defaults) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    if (opts.service) {
      const info = new Gauge({
        name: 'gateway_build_info',
        help: 'Always 1: the service, its version and the Node.js version it runs on.',
        labelNames: ['service', 'version', 'node'],
        registers: [this.registry],
      });
      info.set({ service: opts.service, version: opts.version ?? 'unknown', node: process.version }, 1);
    }
  }

  /** One series of a family; the same labels always return the same object. */
  series(kind: Kind, name: string, help: string, labels: Record<string, string> = {}): Series {
    const family = this.family(kind, name, help, Object.keys(labels));
    const key = keyOf(labels);
    let entry = family.series.get(key);
    if (!entry) {
      entry = { labels, s: { value: 0 } };
      family.series.set(key, entry);
    }
    return entry.s;
  }

  counter(name: string, help: string, labels?: Record<string, string>): Series {
    return this.series('counter', name, help, labels);
  }

  gauge(name: string, help: string, labels?: Record<string, string>): Series {
    return this.series('gauge', name, help, labels);
  }

  /** A family whose series are read at scrape time. */
  collect(name: string, help: string, fn: () => Iterable<[Record<string, string>, number]>, kind: Kind = 'gauge'): void {
    this.family(kind, name, help, []).read = fn;
  }

  /** A latency histogram in seconds (observe with `startTimer()` or `observe(seconds)`). */
  histogram<L extends string = string>(name: string, help: string, labelNames: L[] = [], buckets = LATENCY_BUCKETS): Histogram<L> {
    const h = new Histogram<L>(name, help, labelNames, buckets);
    this.registry.registerMetric(h as unknown as PromMetric);
    return h;
  }

  /** The Prometheus text exposition. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private family(kind: Kind, name: string, help: string, labelNames: string[]): Family {
    let f = this.families.get(name);
    if (f) return f;
    const family: Family = { kind, series: new Map(), metric: undefined as unknown as Gauge };
    // Copies the plain series (and a collect callback's values) in at scrape time.
    const collect = function (this: Gauge) {
      this.reset();
      // No implicit unlabelled zero: only the series that exist are exposed.
      (this as unknown as { hashMap: object }).hashMap = {};
      const known = (this as unknown as { labelNames: string[] }).labelNames;
      const set = (labels: Record<string, string>, value: number) => {
        // A collect callback's label names are known only from what it returns.
        for (const name of Object.keys(labels)) if (!known.includes(name)) known.push(name);
        this.set(labels, value);
      };
      for (const { labels, s } of family.series.values()) set(labels, s.value);
      if (family.read) for (const [labels, value] of family.read()) set(labels, value);
    };
    const names = [...new Set(labelNames)];
    // prom-client's Counter has no set(); a counter family is a Gauge underneath with TYPE counter.
    const metric = new Gauge({ name, help, labelNames: names, registers: [], collect });
    if (kind === 'counter') (metric as unknown as { type: string }).type = 'counter';
    this.registry.registerMetric(metric);
    family.metric = metric;
    f = family;
    this.families.set(name, f);
    return f;
  }
}

/** One labelled series of a histogram: cumulative counts are computed at scrape time. */
export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: readonly number[],
    readonly labels: Readonly<Record<string, string>>,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Back to zero, in place: holders of this series keep counting into what is exported. */
  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }

  observe(seconds: number): void {
    // NaN or ±Infinity would poison `_sum` for good (prom-client threw): not a latency.
    if (!Number.isFinite(seconds)) return;
    const bounds = this.bounds;
    let i = 0;
    // Latencies fall in the first buckets: a linear scan beats a binary search over 14 bounds.
    while (i < bounds.length && seconds > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
    this.count++;
  }
}

/**
 * A Prometheus histogram with prom-client's calling shape (`observe(v)`, `observe(labels, v)`,
 * `labels(...)`, `startTimer()`), registered in the Metrics registry as a metric whose `get()`
 * writes the `_bucket`, `_sum` and `_count` samples.
 */
export class Histogram<L extends string = string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, HistogramSeries>();
  private readonly bounds: readonly number[];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly L[],
    buckets: readonly number[],
  ) {
    if ((labelNames as readonly string[]).includes('le')) throw new Error(`histogram ${name}: "le" is the bucket label`);
    this.bounds = [...new Set(buckets)].sort((a, b) => a - b);
    // Unlabelled: exported from the start, zeros included, so a first increment shows in rate().
    if (labelNames.length === 0) this.labels();
  }

  /** The series of `labels` (the same object each time): keep it for a hot path. */
  labels(labels: Partial<Record<L, string | number>> = {}): HistogramSeries {
    let key = '';
    for (const name of this.labelNames) key += `${String(labels[name] ?? '')}\u0000`;
    let s = this.series.get(key);
    if (!s) {
      const values: Record<string, string> = {};
      for (const name of this.labelNames) if (labels[name] !== undefined) values[name] = String(labels[name]);
      s = new HistogramSeries(this.bounds, values);
      this.series.set(key, s);
    }
    return s;
  }

  observe(labelsOrValue: Partial<Record<L, string | number>> | number, value?: number): void {
    if (typeof labelsOrValue === 'number') this.labels().observe(labelsOrValue);
    else this.labels(labelsOrValue).observe(value!);
  }

  /** Starts a timer; calling the result observes the seconds elapsed and returns them. */
  startTimer(labels?: Partial<Record<L, string | number>>): () => number {
    const started = process.hrtime.bigint();
    return () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.labels(labels).observe(seconds);
      return seconds;
    };
  }

  /** prom-client's registry reads this at scrape time. */
  get(): { name: string; help: string; type: string; aggregator: string; values: { value: number; labels: Record<string, string | number>; metricName: string }[] } {
    const values: { value: number; labels: Record<string, string | number>; metricName: string }[] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += s.counts[i]!;
        values.push({ value: cumulative, labels: { ...s.labels, le: i < this.bounds.length ? this.bounds[i]! : '+Inf' }, metricName: `${this.name}_bucket` });
      }
      values.push({ value: s.sum, labels: s.labels, metricName: `${this.name}_sum` });
      values.push({ value: s.count, labels: s.labels, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const s of this.series.values()) s.reset();
  }
}

/** One sample of a scraped metric. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

const sampleRe = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * Every sample of metric `name` in Prometheus text (what `Metrics.render` writes), labelled or
 * not: the one reader for the e2e harness, the tests and the benchmarks. Comments are skipped.
 */
export function parseMetrics(text: string, name: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = sampleRe.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (m[2] ?? '').matchAll(labelRe)) {
      labels[key!] = value!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

/** The `version` of the package.json at `url` (a service's own, for build_info); "unknown" if unreadable. */
export function packageVersion(url: URL): string {
  try {
    return (JSON.parse(readFileSync(url, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
