/**
 * A minimal Prometheus text-format registry. Counters are plain numbers so an increment on the
 * hot path is one property write; labelled series are created once and kept.
 */
type Kind = 'counter' | 'gauge';

export interface Series {
  value: number;
}

interface Family {
  name: string;
  help: string;
  kind: Kind;
  series: Map<string, Series>;
  collect?: () => Iterable<[labels: Record<string, string>, value: number]>;
}

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

export class Metrics {
  private readonly families = new Map<string, Family>();

  /** One series of a family; the same labels always return the same object. */
  series(kind: Kind, name: string, help: string, labels: Record<string, string> = {}): Series {
    const family = this.family(kind, name, help);
    const key = labelText(labels);
    let s = family.series.get(key);
    if (!s) {
      s = { value: 0 };
      family.series.set(key, s);
    }
    return s;
  }

  counter(name: string, help: string, labels?: Record<string, string>): Series {
    return this.series('counter', name, help, labels);
  }

  gauge(name: string, help: string, labels?: Record<string, string>): Series {
    return this.series('gauge', name, help, labels);
  }

  /** A family whose series are read at scrape time. */
  collect(name: string, help: string, fn: () => Iterable<[Record<string, string>, number]>, kind: Kind = 'gauge'): void {
    this.family(kind, name, help).collect = fn;
  }

  render(): string {
    const out: string[] = [];
    for (const f of this.families.values()) {
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.kind}`);
      for (const [labels, s] of f.series) out.push(`${f.name}${labels} ${s.value}`);
      if (f.collect) for (const [labels, v] of f.collect()) out.push(`${f.name}${labelText(labels)} ${v}`);
    }
    return out.join('\n') + '\n';
  }

  private family(kind: Kind, name: string, help: string): Family {
    let f = this.families.get(name);
    if (!f) {
      f = { name, help, kind, series: new Map() };
      this.families.set(name, f);
    }
    return f;
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
