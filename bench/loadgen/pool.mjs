/**
 * A pool of load-generator worker processes (worker.mjs, or another `worker` module speaking the
 * same `{id, cmd, args}` IPC), each below the 20,000 descriptor limit, driven over IPC. Every
 * call has a timeout; stop() ends the workers by pid.
 *
 *   const pool = await createPool({ size: 4, systemPath, jwtSecret });
 *   const results = await pool.all('connect', (i) => ({ ...args, count: share(n, 4, i) }), 60_000);
 *   pool.onEvent((worker, msg) => {});
 *   await pool.stop();
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('./worker.mjs', import.meta.url));

/** Worker i's share of `total` split over `parts` (the first ones take the remainder). */
export function share(total, parts, i) {
  return Math.floor(total / parts) + (i < total % parts ? 1 : 0);
}

/** First global index of worker i's share, so shares do not overlap. */
export function shareStart(total, parts, i) {
  let start = 0;
  for (let k = 0; k < i; k++) start += share(total, parts, k);
  return start;
}

class Worker {
  constructor(index, child) {
    this.index = index;
    this.child = child;
    this.pid = child.pid;
    this.nextId = 1;
    /** @type {Map<number, { resolve: Function, reject: Function, timer: NodeJS.Timeout }>} */
    this.pending = new Map();
    this.exited = false;
  }

  call(cmd, args, timeoutMs) {
    if (this.exited) return Promise.reject(new Error(`loadgen worker ${this.index} has exited`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`loadgen worker ${this.index}: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.child.send({ id, cmd, args });
    });
  }

  settle(msg) {
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new Error(`loadgen worker ${this.index}: ${msg.error}`));
  }

  failAll(err) {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }
}

export class Pool {
  /** @param {Worker[]} workers */
  constructor(workers) {
    this.workers = workers;
    this.listeners = [];
  }

  get size() {
    return this.workers.length;
  }

  pids() {
    return this.workers.map((w) => w.pid);
  }

  /** Registers fn(workerIndex, msg) for unsolicited worker events ({ ev, ... }). Returns an unsubscribe. */
  onEvent(fn) {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== fn);
    };
  }

  /** Sends cmd to every worker (args, or args(i) per worker) and resolves all replies in order. */
  all(cmd, args, timeoutMs) {
    return Promise.all(this.workers.map((w, i) => w.call(cmd, typeof args === 'function' ? args(i) : args, timeoutMs)));
  }

  /** Ends every worker by pid (SIGTERM, then SIGKILL after 2 s) and waits for each to exit. */
  async stop() {
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise((resolve) => {
            if (w.exited) return resolve();
            const kill = setTimeout(() => signal(w.pid, 'SIGKILL'), 2000);
            w.child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            signal(w.pid, 'SIGTERM');
          }),
      ),
    );
  }
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Forks `size` workers and initialises each: worker.mjs with the system adapter module, another
 * `worker` with `init` (each also gets its `index`).
 * @param {{ size?: number, systemPath?: string, jwtSecret: string, worker?: string, init?: object, onExit?: (index: number, code: number|null) => void }} opts
 */
export async function createPool({ size = 4, systemPath, jwtSecret, worker = WORKER, init, onExit }) {
  const workers = [];
  let pool;
  for (let i = 0; i < size; i++) {
    // The default heap is ample for a few thousand sockets; stdout/stderr are shared with ours.
    // LOADGEN_PROF_DIR=<dir> profiles every worker (node --cpu-prof), to see where its time goes.
    const execArgv = process.env.LOADGEN_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.LOADGEN_PROF_DIR}`] : [];
    const child = fork(worker, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    const w = new Worker(i, child);
    child.on('message', (msg) => {
      if (msg.id !== undefined) return w.settle(msg);
      for (const l of pool?.listeners ?? []) l(i, msg);
    });
    child.on('exit', (code, sig) => {
      w.exited = true;
      w.failAll(new Error(`loadgen worker ${i} exited (${code ?? sig})`));
      onExit?.(i, code ?? sig);
    });
    workers.push(w);
  }
  pool = new Pool(workers);
  try {
    await pool.all('init', (i) => ({ ...(init ?? { systemPath }), jwtSecret, index: i }), 30_000);
  } catch (err) {
    await pool.stop();
    throw err;
  }
  return pool;
}
