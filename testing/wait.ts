import { parseMetrics } from '@gateway/server-kit';

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Describes the condition in the timeout error. */
  what?: string;
}

/**
 * Polls `fn` until it returns a truthy value (which is returned) or the deadline passes. For
 * conditions only visible by polling (HTTP status, metrics); messages have `client.next()`.
 * A throwing `fn` counts as "not yet"; its last error is reported on timeout.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: number | WaitOptions = {}): Promise<NonNullable<T>> {
  const { timeoutMs = 15_000, intervalMs = 50, what = 'condition' } = typeof opts === 'number' ? { timeoutMs: opts } : opts;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  let lastError: unknown;
  for (;;) {
    try {
      last = await fn();
      if (last) return last as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const detail = lastError ? `; last error: ${(lastError as Error).message}` : `; last value: ${JSON.stringify(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Reads one series (`name`, or `name{label="v",...}` for a labelled one) from a Prometheus text endpoint; throws if it is absent. */
export async function metric(url: string, name: string): Promise<number> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
  // `name` or `name{label="value",...}`: the sample with exactly those labels.
  const at = name.indexOf('{');
  const base = at < 0 ? name : name.slice(0, at);
  const want: Record<string, string> = {};
  if (at >= 0) for (const [, key, value] of name.slice(at).matchAll(/(\w+)="([^"]*)"/g)) want[key!] = value!;
  const same = (labels: Record<string, string>) =>
    Object.keys(labels).length === Object.keys(want).length && Object.entries(want).every(([k, v]) => labels[k] === v);
  const sample = parseMetrics(await res.text(), base).find((s) => same(s.labels));
  if (sample) return sample.value;
  throw new Error(`metric ${name} not found at ${url}`);
}
