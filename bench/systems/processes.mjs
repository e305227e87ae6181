/**
 * Server processes for the system adapters: started with the GC hook preloaded, ready when they
 * print their `{"ready":...}` line, killed by pid. Every live child is also killed when this
 * process exits, so an orchestrator that crashes leaves nothing behind.
 */
import { execFileSync, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { parseReadyLine } from '@gateway/server-kit';

export const benchDir = dirname(dirname(fileURLToPath(import.meta.url)));
export const rootDir = dirname(benchDir);
const gcHook = join(benchDir, 'gc-hook.cjs');
// BENCH_ECHO_SERVERS=1 copies every server output line to our stderr, prefixed with its role and pid.
const echo = process.env.BENCH_ECHO_SERVERS === '1';

const live = new Set();
/** The last `{"gc":"done",rss,heapUsed,...}` report of each server process, by pid. */
export const lastGcReport = new Map();
process.on('exit', () => {
  for (const server of live) server.child.kill('SIGKILL');
});

/** One started server process: its ready line (`info`), stdout line waiters, stderr tail. */
export class ServerProcess {
  /** @param {((line: string, stream: 'stdout' | 'stderr') => void) | undefined} onLine sees every output line */
  constructor(role, child, onLine) {
    this.role = role;
    this.child = child;
    this.pid = child.pid;
    this.info = undefined;
    this.exited = false;
    this.waiters = new Set();
    this.stderrTail = [];
    live.add(this);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (echo) process.stderr.write(`[${role} ${this.pid}] ${line}\n`);
      onLine?.(line, 'stdout');
      for (const w of this.waiters) if (w.test(line)) w.resolve(line);
    });
    createInterface({ input: child.stderr }).on('line', (line) => {
      if (echo) process.stderr.write(`[${role} ${this.pid} stderr] ${line}\n`);
      onLine?.(line, 'stderr');
      this.stderrTail.push(line);
      if (this.stderrTail.length > 20) this.stderrTail.shift();
    });
    // 'close', not 'exit': it comes after stdout and stderr are drained, so the tail is complete.
    this.exit = new Promise((resolve) =>
      child.once('close', (code, signal) => {
        this.exited = true;
        live.delete(this);
        for (const w of this.waiters) w.reject(new Error(`${role} (pid ${this.pid}) exited (${signal ?? code}):\n${this.stderrTail.join('\n')}`));
        resolve();
      }),
    );
  }

  /** Resolves with the next stdout line passing `test`; rejects on exit or after `timeoutMs`. */
  waitLine(test, timeoutMs, what) {
    if (this.exited) return Promise.reject(new Error(`${this.role} (pid ${this.pid}) is not running`));
    return new Promise((resolve, reject) => {
      const w = {
        test,
        resolve: (line) => done(() => resolve(line)),
        reject: (err) => done(() => reject(err)),
      };
      const timer = setTimeout(() => w.reject(new Error(`${this.role} (pid ${this.pid}): no ${what} within ${timeoutMs} ms`)), timeoutMs);
      const done = (settle) => {
        clearTimeout(timer);
        this.waiters.delete(w);
        settle();
      };
      this.waiters.add(w);
    });
  }

  /** Forces a full GC through bench/gc-hook.cjs and waits for its `{"gc":"done"}` line. */
  gc(timeoutMs = 10_000) {
    const done = this.waitLine((line) => line.startsWith('{"gc":"done"'), timeoutMs, 'gc report');
    process.kill(this.pid, 'SIGUSR2');
    return done.then((line) => {
      lastGcReport.set(this.pid, JSON.parse(line));
      return line;
    });
  }

  /**
   * SIGKILL, resolved once the process is gone. When it writes a CPU profile, SIGINT first: every
   * server exits at once on it (SIGTERM would make the gateway's services drain for seconds).
   */
  async kill() {
    if (!this.exited && process.env.BENCH_CPU_PROFILES) {
      this.child.kill('SIGINT');
      await Promise.race([this.exit, new Promise((r) => setTimeout(r, 5_000))]);
    }
    if (!this.exited) this.child.kill('SIGKILL');
    await this.exit;
  }
}

/**
 * Starts `node --expose-gc --require bench/gc-hook.cjs <script>` with `env` added to ours and
 * resolves once it prints `{"ready":"<readyName>",...}` (parsed into `info`).
 */
export async function startServer({ role, script, env, readyName, timeoutMs = 20_000, onLine }) {
  // BENCH_CPU_PROFILES=<dir>: every server process writes a V8 CPU profile there when it exits
  // (NODE_OPTIONS refuses --cpu-prof), stopped with SIGINT (kill() below).
  const dir = process.env.BENCH_CPU_PROFILES;
  const profile = dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${role}-${Date.now()}-${Math.random().toString(36).slice(2, 6)}.cpuprofile`] : [];
  const child = spawn(process.execPath, [...profile, '--expose-gc', '--require', gcHook, script], {
    cwd: rootDir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server = new ServerProcess(role, child, onLine);
  try {
    server.info = parseReadyLine(await server.waitLine((line) => parseReadyLine(line, readyName) !== undefined, timeoutMs, 'ready line'), readyName);
  } catch (err) {
    await server.kill();
    throw err;
  }
  return server;
}

/**
 * startServer on a fixed port, retried while the port is still held. uWebSockets.js (balancer,
 * uws-raw) binds without SO_REUSEADDR, so after a kill its port stays taken while the killed
 * process's connections sit in TIME_WAIT (60 s on Linux) or FIN_WAIT_2 on the server side; they
 * do not when clients answer the server's FIN with a reset (INTERFACE.md, Changes).
 */
export async function startServerRetrying(spec, timeoutMs = 75_000) {
  const deadline = Date.now() + timeoutMs;
  for (let warned = false; ; ) {
    try {
      return await startServer(spec);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      if (!warned) process.stderr.write(`${spec.role}: cannot start again yet, retrying until the port is free (${err.message.split('\n')[1] ?? err.message})\n`);
      warned = true;
      await delay(250);
    }
  }
}

/**
 * GET over a fresh connection that this side closes once the body is in, so a server killed
 * later holds no kept-alive socket (whose TIME_WAIT would keep its port from being bound again).
 * Resolves with { status, body } (body parsed as JSON, or undefined).
 */
export function getJson(host, port, path, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`GET ${path}: timeout`)));
    socket.on('error', reject);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`));
    socket.on('data', (chunk) => {
      text += chunk;
      const split = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, split));
      if (split < 0 || !length || text.length < split + 4 + Number(length[1])) return;
      socket.destroy();
      let body;
      try {
        body = JSON.parse(text.slice(split + 4));
      } catch {}
      resolve({ status: Number(text.slice(9, 12)), body });
    });
    socket.on('end', () => reject(new Error(`GET ${path}: closed before a full answer`)));
  });
}

/** Polls `http://host:port/path` until it answers 200 and `accept(body)` holds, or throws after `timeoutMs`. */
export async function pollReady(host, port, path, timeoutMs = 20_000, accept = () => true) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const { status, body } = await getJson(host, port, path);
      if (status === 200 && accept(body)) return body;
      last = `${status} ${JSON.stringify(body)}`;
    } catch (err) {
      last = err.message;
    }
    await delay(50);
  }
  throw new Error(`http://${host}:${port}${path} not ready within ${timeoutMs} ms (last: ${last})`);
}

export const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Kills every process in `servers` (in parallel) and waits until all are gone. */
export function killAll(servers) {
  return Promise.all(servers.map((s) => s.kill()));
}

/** A free TCP port on 127.0.0.1 (bound and released: a start-up race is possible, and retried by callers that bind fixed ports). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A redis-server on a free port of 127.0.0.1, without persistence; resolves once it accepts
 * clients with `{ url, port, pid, stop() }` (stop: SIGTERM, SIGKILL after 3 s, by pid). `args`
 * are added to its command line (a cluster node's settings: systems/redis-cluster.mjs).
 */
export async function startRedisServer({ maxclients = 10_000, timeoutMs = 10_000, args = [] } = {}) {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxclients', String(maxclients), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  let timer;
  try {
    await new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`redis-server not ready within ${timeoutMs} ms`)), timeoutMs);
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`redis-server exited (${code})`)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line.includes('Ready to accept connections')) resolve();
      });
    });
  } catch (err) {
    await stop();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return { url: `redis://127.0.0.1:${port}`, port, pid: child.pid, stop };
}

/**
 * The commit the built processes come from, and the files that differed from it (outside
 * bench/): dist/ is built from the work tree, so a figure names what it measured.
 */
export function sourceState() {
  try {
    const git = (...a) => execFileSync('git', a, { cwd: rootDir, encoding: 'utf8', timeout: 5000 }).trimEnd();
    const changed = git('status', '--porcelain', '--', '.', ':(exclude)bench').split('\n').filter(Boolean).map((l) => l.slice(3));
    return { commit: git('rev-parse', '--short', 'HEAD'), changedOutsideBench: changed };
  } catch (err) {
    return { commit: null, error: err.message };
  }
}
