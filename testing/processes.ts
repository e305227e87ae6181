import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { testEnv } from './config.js';

/** One captured output line of a spawned process. */
export interface LogLine {
  stream: 'stdout' | 'stderr';
  text: string;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A spawned child with its output captured line by line. Every one is tracked until it exits, so
 * `killAll()` (afterAll) and the process `exit` hook never leave a server running.
 */
export class Proc {
  readonly lines: LogLine[] = [];
  readonly exited: Promise<ExitStatus>;
  exit: ExitStatus | undefined;
  private readonly lineWaiters = new Set<(line: LogLine) => void>();

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    for (const stream of ['stdout', 'stderr'] as const) {
      const source = child[stream];
      if (!source) continue;
      createInterface({ input: source, crlfDelay: Infinity }).on('line', (text) => {
        const line = { stream, text };
        this.lines.push(line);
        for (const waiter of this.lineWaiters) waiter(line);
      });
    }
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        live.delete(this);
        resolve(this.exit);
      });
    });
    live.add(this);
    spawned.add(this);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Output text of one stream (or both), for assertions on messages. */
  output(stream?: 'stdout' | 'stderr'): string {
    return this.lines.filter((l) => !stream || l.stream === stream).map((l) => l.text).join('\n');
  }

  /** The last lines of output, for error messages and failure dumps. */
  tail(count = 60, from = 0): string {
    return this.lines
      .slice(from)
      .slice(-count)
      .map((l) => `[${this.name} ${l.stream}] ${l.text}`)
      .join('\n');
  }

  /**
   * Resolves with the first line (already seen or future) for which `pick` returns a value;
   * rejects if the process exits first or the timeout passes.
   */
  waitForLine<T>(pick: (line: LogLine) => T | undefined, timeoutMs: number, what: string): Promise<T> {
    for (const line of this.lines) {
      const found = pick(line);
      if (found !== undefined) return Promise.resolve(found);
    }
    return new Promise<T>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.lineWaiters.delete(onLine);
      };
      const onLine = (line: LogLine): void => {
        const found = pick(line);
        if (found === undefined) return;
        done();
        resolve(found);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms\n${this.tail()}`));
      }, timeoutMs);
      this.lineWaiters.add(onLine);
      void this.exited.then((status) => {
        if (!this.lineWaiters.has(onLine)) return;
        done();
        reject(new Error(`${this.name} exited (code ${status.code}, signal ${status.signal}) before ${what}\n${this.tail()}`));
      });
    });
  }

  /** SIGTERM, then SIGKILL if still running after `graceMs`. */
  async stop(graceMs = 5000): Promise<ExitStatus> {
    if (this.exit) return this.exit;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const status = await this.exited;
    clearTimeout(timer);
    return status;
  }

  /** Sends a signal, e.g. SIGSTOP/SIGCONT to freeze a process (a hung peer, half-open TCP). */
  signal(sig: NodeJS.Signals): void {
    if (!this.exit) this.child.kill(sig);
  }

  /** SIGKILL: the process dies without any clean-up (a crash). */
  async kill(): Promise<ExitStatus> {
    if (this.exit) return this.exit;
    this.child.kill('SIGKILL');
    return this.exited;
  }
}

// One registry per worker process, even if the harness module is evaluated once per test file.
const registry = globalThis as typeof globalThis & { __e2eLiveProcs?: Set<Proc> };
const live: Set<Proc> = (registry.__e2eLiveProcs ??= new Set<Proc>());
/** Every process spawned since the last `forgetSpawned()`, exited ones too (log scans). */
const spawned = new Set<Proc>();

export function spawnedProcs(): Proc[] {
  return [...spawned];
}

export function forgetSpawned(): void {
  spawned.clear();
}

/** Spawns `node <script>` (or any command) with a clean, explicit environment. */
export function spawnProc(name: string, command: string, args: string[], env: Record<string, string>, cwd?: string): Proc {
  const child = spawn(command, args, {
    // Only PATH and what the caller passes: a developer's shell env must not change the result.
    env: { PATH: testEnv.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd,
  });
  return new Proc(name, child);
}

/** Every process spawned by this test file that has not exited yet. */
export function liveProcs(): Proc[] {
  return [...live];
}

/** Kills every tracked process and waits for them to exit. Call from afterAll. */
export async function killAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.kill()));
}

// Last resort if a test file's worker exits without running afterAll (registered once).
if (!process.listeners('exit').some((l) => l.name === 'killE2eProcs')) {
  process.once('exit', function killE2eProcs() {
    for (const p of live) p.child.kill('SIGKILL');
  });
}
