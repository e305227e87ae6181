/**
 * The "ready line": one JSON line a service prints on stdout once it listens, for process
 * supervisors, `npm start` (scripts/run.mjs), the e2e harness and the benchmarks. One writer and
 * one reader (STYLE 13), so the format cannot differ between the ends.
 */

/** What each gateway service announces; a benchmark peer announces at least `port`. */
export interface ReadyFields {
  /** `workers`: a BALANCER_WORKERS primary's line lists every worker (adminPort is the first's). */
  balancer: { id: string; port: number; adminPort: number; workers?: Array<{ id: string; pid: number; adminPort: number }> };
  monolith: { id: string; httpPort: number; linkPort: number };
}

export type ReadyLine<T> = { ready: string } & T;

/** Prints `{"ready":"<service>",...fields}` and a newline on stdout. */
export function announceReady<S extends string>(service: S, fields: S extends keyof ReadyFields ? ReadyFields[S] : Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ready: service, ...fields })}\n`);
}

/** The fields of `service`'s ready line, or undefined for any other line (logs, other services). */
export function parseReadyLine<S extends string>(line: string, service: S): ReadyLine<S extends keyof ReadyFields ? ReadyFields[S] : Record<string, unknown>> | undefined {
  if (!line.startsWith('{"ready":')) return undefined;
  try {
    const parsed = JSON.parse(line) as { ready?: unknown };
    return parsed.ready === service ? (parsed as ReadyLine<never>) : undefined;
  } catch {
    return undefined;
  }
}
