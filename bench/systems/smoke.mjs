#!/usr/bin/env node
/**
 * Smoke test of the system adapters (not part of npm test): for each system, with a fresh
 * redis-server on a free port, start it, connect 3 clients with its client protocol, check
 * welcome, one ping round trip, one publish reaching all 3 with the right seq, gc(), restart of
 * the process behind urls[0] with a new client connecting afterwards, and that stop() leaves no
 * process behind. The gateway also checks its direct-to-monolith socket and a monolith restart.
 *
 *   node_modules/.bin/tsc -b protocol balancer monolith
 *   node bench/systems/smoke.mjs [gateway uws-raw uws-relay ws-loop socketio] [--balancers 1|2]
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import WebSocket from 'ws';
import { mintToken } from '@gateway/server-kit';
import { Redis } from 'ioredis';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const balancersAt = args.indexOf('--balancers');
const balancers = balancersAt >= 0 ? Number(args.splice(balancersAt, 2)[1]) : 2;
const names = args.length ? args : ['gateway', 'uws-raw', 'uws-relay', 'ws-loop', 'socketio'];
const host = '127.0.0.1';
const jwtSecret = 'smoke-jwt-secret-0123456789abcdef';
const room = 'bench-room';
const TIMEOUT_MS = 10_000;
let clientCount = 0;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', host, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const url = `redis://${host}:${port}`;
  // Commands wait in ioredis' offline queue while it retries the connection.
  const probe = new Redis(url, { retryStrategy: () => 50, maxRetriesPerRequest: null });
  probe.on('error', () => {});
  await withTimeout(probe.ping(), 'redis-server start');
  probe.disconnect();
  return { url, child, stop: () => new Promise((resolve) => (child.kill('SIGKILL'), child.once('exit', resolve))) };
}

function withTimeout(promise, what, ms = TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timeout: ${what}`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A raw websocket client driven only by the adapter's client object, as the load generator does. */
class Client {
  constructor(url, client, headers = {}, options = {}) {
    this.client = client;
    // What the adapter client's classify(text, conn) may read (INTERFACE.md).
    this.headers = headers;
    this.options = options;
    this.room = room;
    this.frames = [];
    this.waiters = [];
    this.closed = false;
    this.ws = new WebSocket(url, { headers, perMessageDeflate: false });
    this.opened = new Promise((resolve, reject) => (this.ws.once('open', resolve), this.ws.once('error', reject)));
    // A server that goes away is answered with a reset, not a FIN, so its port holds no TIME_WAIT
    // and a restart can bind it at once (INTERFACE.md, Changes); runs before ws' own 'end' handler.
    this.ws.once('open', () => this.ws._socket.prependOnceListener('end', () => this.ws._socket.resetAndDestroy()));
    this.opened.catch(() => {});
    this.ws.on('message', (data) => {
      const c = client.classify(data.toString(), this);
      if (c.kind === 'reply') for (const f of c.frames) this.ws.send(f);
      this.frames.push(c);
      for (const w of [...this.waiters]) if (w.test(c)) w.resolve(c);
    });
    this.ws.on('close', () => {
      this.closed = true;
      for (const w of this.waiters) w.resolve(undefined);
    });
    this.ws.on('error', () => {});
  }

  async hello() {
    this.token = await mintToken({ sub: `smoke-${clientCount}`, name: `smoke ${clientCount++}` }, { secret: jwtSecret, ttlSeconds: 3600 });
    await withTimeout(this.opened, 'open');
    for (const f of this.client.hello(this.token, room)) this.ws.send(f);
    const welcome = await this.next((c) => c.kind === 'welcome', 'welcome');
    if (!welcome) throw new Error('closed before welcome');
  }

  /** Resolves with the next classified frame passing `test` (undefined once closed). */
  next(test, what) {
    const seen = this.frames.find(test);
    if (seen) return Promise.resolve(seen);
    if (this.closed) return Promise.resolve(undefined);
    return withTimeout(
      new Promise((resolve) => {
        const w = { test, resolve: (c) => (this.waiters.splice(this.waiters.indexOf(w), 1), resolve(c)) };
        this.waiters.push(w);
      }),
      what,
    );
  }
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function connect(urls, client, n) {
  const clients = Array.from({ length: n }, (_, i) => new Client(urls[i % urls.length], client));
  await Promise.all(clients.map((c) => c.hello()));
  return clients;
}

async function pingOnce(c, id) {
  const t0 = performance.now();
  c.ws.send(c.client.ping(id, c.token, room));
  const pong = await c.next((f) => f.kind === 'pong' && f.id === id, `pong ${id}`);
  if (!pong) throw new Error('closed before pong');
  return performance.now() - t0;
}

async function smoke(name) {
  const { default: system } = await import(pathToFileURL(join(here, `${name}.mjs`)).href);
  const redis = await startRedis();
  const notes = [];
  let handle;
  const pids = new Set();
  const clients = [];
  try {
    handle = await system.start({ redisUrl: redis.url, jwtSecret, balancers, host });
    for (const p of handle.processes) pids.add(p.pid);
    notes.push(`${handle.processes.length} processes (${handle.processes.map((p) => p.role).join(', ')})`);

    clients.push(...(await connect(handle.urls, system.client, 3)));
    notes.push('welcome 3/3');
    notes.push(`ping ${(await pingOnce(clients[0], 7)).toFixed(1)} ms`);

    // The room's subscription is set up asynchronously after the first join (gateway and peers
    // alike): publish seq 0 until every client has one, then check one exact message.
    const tNs = process.hrtime.bigint();
    const warm = setInterval(() => handle.publish(room, system.payload(0, tNs)), 50);
    try {
      await Promise.all(clients.map((c) => c.next((f) => f.kind === 'delivery' && f.seq === 0, 'first delivery')));
    } finally {
      clearInterval(warm);
    }
    const t1 = process.hrtime.bigint();
    const body = system.payload(41, t1);
    await handle.publish(room, body);
    const got = await Promise.all(clients.map((c) => c.next((f) => f.kind === 'delivery' && f.seq === 41, 'delivery 41')));
    if (!got.every((d) => d && d.t === Number(t1))) throw new Error(`delivery 41 read back wrong: ${JSON.stringify(got)}`);
    notes.push(`publish 3/3 (${body.length} B payload)`);

    await withTimeout(handle.gc(), 'gc');
    const copies = clients.map((c) => c.frames.filter((f) => f.kind === 'delivery' && f.seq === 41).length);
    if (copies.some((n) => n !== 1)) throw new Error(`delivery 41 copies per client: ${copies}`);
    notes.push('gc');

    const role = name === 'gateway' ? 'balancer' : name;
    const onFirst = clients.filter((c) => c.ws.url.startsWith(handle.urls[0]));
    const r0 = performance.now();
    await withTimeout(handle.restart(role), `restart ${role}`, 30_000);
    const restartMs = performance.now() - r0;
    for (const p of handle.processes) pids.add(p.pid);
    await Promise.all(onFirst.map((c) => withTimeout(new Promise((r) => (c.closed ? r() : c.ws.once('close', r))), 'drop on restart')));
    const [fresh] = await connect([handle.urls[0]], system.client, 1);
    clients.push(fresh);
    await pingOnce(fresh, 8);
    notes.push(`restart ${role} in ${restartMs.toFixed(0)} ms (${onFirst.length} dropped, new client ok)`);

    if (handle.direct) {
      const { url, headers, client, options } = handle.direct;
      if (!Object.values(await import(pathToFileURL(join(here, `${name}.mjs`)).href)).includes(client)) throw new Error('direct.client is not a module export');
      const direct = new Client(url, client, headers, options);
      clients.push(direct);
      await direct.hello();
      notes.push(`direct ping ${(await pingOnce(direct, 9)).toFixed(1)} ms`);
      await withTimeout(handle.restart('monolith'), 'restart monolith', 30_000);
      for (const p of handle.processes) pids.add(p.pid);
      // With its only monolith gone a balancer closes its clients with 4001 (reconnect): a new one must get in.
      const [again] = await connect(handle.urls, system.client, 1);
      clients.push(again);
      await pingOnce(again, 10);
      notes.push('restart monolith (new client ok)');
    }
  } finally {
    for (const c of clients) c.ws.terminate();
    if (handle) await withTimeout(handle.stop(), 'stop');
    await redis.stop();
  }
  const left = [...pids].filter(alive);
  if (left.length) throw new Error(`processes left after stop: ${left.join(', ')}`);
  notes.push(`stop (${pids.size} pids gone)`);
  return notes;
}

let failed = 0;
for (const name of names) {
  const t0 = performance.now();
  try {
    const notes = await smoke(name);
    console.log(`ok   ${name.padEnd(8)} ${((performance.now() - t0) / 1000).toFixed(1)} s  ${notes.join(', ')}`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name.padEnd(8)} ${err.stack ?? err}`);
  }
}
process.exit(failed ? 1 : 0);
