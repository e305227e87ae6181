import { afterAll, beforeEach } from 'vitest';
import { closeAllClients } from './client.js';
import { forgetSpawned, killAll, liveProcs, spawnedProcs, type Proc } from './processes.js';
import { JWT_SECRET, LINK_SECRET } from './stack.js';

export * from './client.js';
export * from './processes.js';
export * from './redis.js';
export * from './stack.js';
export * from './tokens.js';
export * from './wait.js';
export * from './raw-link.js';

/**
 * Registers the per-file hooks every e2e file needs: on a failed test, print the output each
 * process wrote during that test; after the file, close clients and kill every spawned process.
 */
export function useHarness(): void {
  const marks = new Map<Proc, number>();
  beforeEach(({ onTestFailed }) => {
    marks.clear();
    for (const p of liveProcs()) marks.set(p, p.lines.length);
    onTestFailed(() => {
      const procs = [...new Set([...marks.keys(), ...liveProcs()])];
      const dumps = procs.map((p) => {
        const status = p.exit ? `exited code=${p.exit.code} signal=${p.exit.signal}` : `pid ${p.pid} running`;
        const during = p.tail(80, marks.get(p) ?? 0);
        return `== ${p.name} (${status})\n${during || '(no output during the test; last lines before it:)\n' + p.tail(10)}`;
      });
      if (dumps.length) process.stderr.write(`\n---- process output during the failed test ----\n${dumps.join('\n')}\n----\n`);
    });
  });
  afterAll(async () => {
    closeAllClients();
    await killAll();
    const leaks = secretLeaks(spawnedProcs());
    forgetSpawned();
    if (leaks.length) throw new Error(`a service logged a secret or a token:\n${leaks.join('\n')}`);
  });
}

/** A JWT's shape: two base64url JSON parts (`eyJ` is `{"`) and a signature. */
const JWT_SHAPE = /eyJ[\w-]{6,}\.eyJ[\w-]{6,}\.[\w-]*/;

/**
 * Lines of the services' output (balancers, monoliths) that hold the test secrets or anything
 * shaped like a token: every e2e file checks its whole run, so no log line anywhere leaks one.
 */
export function secretLeaks(procs: Proc[]): string[] {
  const out: string[] = [];
  for (const p of procs) {
    if (!/^(monolith|balancer) /.test(p.name)) continue;
    for (const line of p.lines) {
      if (line.text.includes(JWT_SECRET) || line.text.includes(LINK_SECRET) || JWT_SHAPE.test(line.text)) out.push(`[${p.name}] ${line.text.slice(0, 300)}`);
    }
  }
  return out;
}
