#!/usr/bin/env node
/**
 * Quick figure for the core: ping → pong round trips per second through one balancer and one
 * monolith (embedded bus), closed loop over CLIENTS sockets for SECONDS. Traffic stays on
 * 127.0.0.1; both services are started here and stopped by pid. The full side-by-side benchmark
 * with peers is `npm run bench` (issue 3); this is the smoke figure for the closing note.
 *
 *   node bench/forward-rate.mjs [clients=50] [seconds=10]
 *   PROFILE_DIR=/tmp/prof node bench/forward-rate.mjs   (writes --cpu-prof profiles of both services)
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { mintToken, parseReadyLine } from '@gateway/server-kit';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(join(root, 'e2e', 'package.json'));
const WebSocket = require('ws');

const CLIENTS = Number(process.argv[2] ?? 50);
const SECONDS = Number(process.argv[3] ?? 10);
const env = { ...process.env, JWT_SECRET: 'bench-jwt-secret-0123456789abcdef', LINK_SECRET: 'bench-link-secret-0123456789', MONOLITH_LOG_LEVEL: 'warn', BALANCER_LOG_LEVEL: 'warn' };

function start(script, extra, name) {
  const profile = process.env.PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE_DIR}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
  const child = spawn(process.execPath, [...profile, join(root, script)], { env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const msg = parseReadyLine(line, name);
      if (msg) resolve({ child, ...msg });
    });
  });
}

/** utime and stime of a process, in ms (100 Hz ticks). */
const times = (pid) => {
  const fields = require('node:fs').readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { user: Number(fields[11]) * 10, sys: Number(fields[12]) * 10 };
};
const cpu = (pid) => {
  const t = times(pid);
  return t.user + t.sys;
};

const mono = await start('monolith/dist/main.js', { MONOLITH_HOST: '127.0.0.1', MONOLITH_HTTP_PORT: '0', MONOLITH_LINK_PORT: '0', MONOLITH_ID: 'bench-m1' }, 'monolith');
const bal = await start('balancer/dist/main.js', { BALANCER_HOST: '127.0.0.1', BALANCER_PORT: '0', MONOLITHS: `127.0.0.1:${mono.linkPort}`, MESSAGE_RATE: '1000000', MESSAGE_BURST: '1000000',
  // Every client is on 127.0.0.1: the per-address connect budgets would refuse most of them.
  CONNECT_RATE_PER_IP: '100000', CONNECT_BURST_PER_IP: '100000', MAX_UNAUTHENTICATED_PER_IP: '100000', ADMIN_PORT: '0' }, 'balancer');
for (;;) {
  const r = await fetch(`http://127.0.0.1:${bal.port}/ready`).catch(() => undefined);
  if (r?.ok) break;
  await new Promise((r) => setTimeout(r, 50));
}

let count = 0;
let running = true;
const sockets = [];
await Promise.all(
  Array.from({ length: CLIENTS }, async (_, i) => {
    const token = await mintToken({ sub: `bench-${i}` }, { secret: env.JWT_SECRET, ttlSeconds: 3600 });
    const ws = new WebSocket(`ws://127.0.0.1:${bal.port}/ws`);
    sockets.push(ws);
    await new Promise((resolve) => {
      ws.on('open', () => ws.send(JSON.stringify({ action: 'auth', token })));
      ws.on('message', (data) => {
        const text = data.toString();
        if (text.includes('"welcome"')) return resolve();
        if (!running) return;
        count++;
        ws.send('{"event":"ping","_id":1}');
      });
    });
  }),
);
const cpu0 = { b: cpu(bal.child.pid), m: cpu(mono.child.pid), bSys: times(bal.child.pid).sys, mSys: times(mono.child.pid).sys };
const t0 = performance.now();
for (const ws of sockets) ws.send('{"event":"ping","_id":1}');
await new Promise((r) => setTimeout(r, SECONDS * 1000));
running = false;
const elapsed = (performance.now() - t0) / 1000;
const used = { b: cpu(bal.child.pid) - cpu0.b, m: cpu(mono.child.pid) - cpu0.m, bSys: times(bal.child.pid).sys - cpu0.bSys, mSys: times(mono.child.pid).sys - cpu0.mSys };
const rate = count / elapsed;
console.log(
  JSON.stringify({
    clients: CLIENTS,
    seconds: Number(elapsed.toFixed(2)),
    roundTripsPerSec: Math.round(rate),
    balancerFramesPerSec: Math.round(rate * 2),
    balancerCpuUsPerRoundTrip: Number(((used.b * 1000) / count).toFixed(2)),
    monolithCpuUsPerRoundTrip: Number(((used.m * 1000) / count).toFixed(2)),
    // The kernel's part of those (syscalls: client and link reads and writes).
    balancerSysUsPerRoundTrip: Number(((used.bSys * 1000) / count).toFixed(2)),
    monolithSysUsPerRoundTrip: Number(((used.mSys * 1000) / count).toFixed(2)),
  }),
);
for (const ws of sockets) ws.terminate();
bal.child.kill('SIGTERM');
mono.child.kill('SIGTERM');
await Promise.all([bal, mono].map(({ child }) => new Promise((resolve) => child.once('exit', resolve))));
