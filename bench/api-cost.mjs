#!/usr/bin/env node
/**
 * Cost of two gateway API paths over the demo fixture, through one balancer, one monolith and
 * Redis (all started here on 127.0.0.1 and stopped by pid):
 * - pool_search_request over the 3,000-member demo guild: latency and monolith + Redis CPU per search;
 * - log_pool fan-out: a PUT through HTTP delivered to SPECTATORS spectators: time until the last
 *   one has it, and server CPU (balancer + monolith + Redis) per delivery.
 *
 *   npm run build && node bench/api-cost.mjs [spectators=1000] [searches=2000] [writes=100]
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { mintToken, parseReadyLine } from '@gateway/server-kit';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(join(root, 'e2e', 'package.json'));
const WebSocket = require('ws');
const SPECTATORS = Number(process.argv[2] ?? 1000);
const SEARCHES = Number(process.argv[3] ?? 2000);
const WRITES = Number(process.argv[4] ?? 100);
const GUILD = '1234567890';
const env = { ...process.env, JWT_SECRET: 'bench-jwt-secret-0123456789abcdef', LINK_SECRET: 'bench-link-secret-0123456789', MONOLITH_LOG_LEVEL: 'warn', BALANCER_LOG_LEVEL: 'warn' };
const children = [];

const freePort = () => new Promise((resolve) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
const cpuMs = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};
function start(args, extra, readyTest) {
  const child = spawn(args[0], args.slice(1), { env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve) => createInterface({ input: child.stdout }).on('line', (line) => { const r = readyTest(line); if (r) resolve({ child, ...r }); }));
}
const jsonReady = (name) => (line) => parseReadyLine(line, name);
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
const token = (sub, extra = {}) => mintToken({ sub, guilds: { [GUILD]: 0x207 }, ...extra }, { secret: env.JWT_SECRET, ttlSeconds: 3600 });

try {
  const redisPort = await freePort();
  const redis = await start(['redis-server', '--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {}, (l) => (/ready to accept/i.test(l) ? {} : undefined));
  const mono = await start([process.execPath, join(root, 'monolith/dist/main.js')], { MONOLITH_HOST: '127.0.0.1', MONOLITH_HTTP_PORT: '0', MONOLITH_LINK_PORT: '0', MONOLITH_ID: 'cost-m1', REDIS_URL: `redis://127.0.0.1:${redisPort}`, DEMO_FIXTURE: 'true' }, jsonReady('monolith'));
  const bal = await start([process.execPath, join(root, 'balancer/dist/main.js')], { BALANCER_HOST: '127.0.0.1', BALANCER_PORT: '0', MONOLITHS: `127.0.0.1:${mono.linkPort}`, MESSAGE_RATE: '100000', MESSAGE_BURST: '100000' }, jsonReady('balancer'));
  while (!(await fetch(`http://127.0.0.1:${bal.port}/ready`).catch(() => undefined))?.ok) await new Promise((r) => setTimeout(r, 50));

  const connectOne = async (i) => {
    const ws = new WebSocket(`ws://127.0.0.1:${bal.port}/ws`);
    const inbox = new Map();
    const t = await token(`cost-${i}`);
    await new Promise((resolve) => {
      ws.on('open', () => ws.send(JSON.stringify({ action: 'auth', token: t })));
      ws.on('message', (d) => {
        const text = d.toString();
        if (text.startsWith('{"event":"welcome"')) return resolve();
        const m = JSON.parse(text);
        const waiter = inbox.get(m._id ?? m.event);
        if (waiter) waiter(m);
      });
    });
    return { ws, inbox, request(event, id, data) { return new Promise((resolve) => { inbox.set(id, resolve); ws.send(JSON.stringify({ event, _id: id, data })); }); } };
  };

  // 1. search
  const searcher = await connectOne('searcher');
  const queries = ['a', 'ka', 'lo', 'mi', 'ra', 'ali', 'zor', 'shi', 'ten', 'q'];
  const cpu0 = cpuMs(mono.child.pid) + cpuMs(redis.child.pid);
  const lat = [];
  const t0 = performance.now();
  for (let i = 0; i < SEARCHES; i++) {
    const s = performance.now();
    await searcher.request('pool_search_request', i, { type: 'member', guild_id: GUILD, query: queries[i % queries.length], limit: 20 });
    lat.push(performance.now() - s);
  }
  const searchSecs = (performance.now() - t0) / 1000;
  const searchCpu = cpuMs(mono.child.pid) + cpuMs(redis.child.pid) - cpu0;

  // 2. log_pool fan-out
  const spectators = [];
  for (let i = 0; i < SPECTATORS; i += 100) spectators.push(...(await Promise.all(Array.from({ length: Math.min(100, SPECTATORS - i) }, (_, j) => connectOne(i + j)))));
  await Promise.all(spectators.map((c, i) => c.request('spectate', `s${i}`, { guild_id: GUILD })));
  const service = await token('backend', { admin: true });
  const fanout = [];
  const pids = [bal.child.pid, mono.child.pid, redis.child.pid];
  const cpu1 = pids.reduce((a, p) => a + cpuMs(p), 0);
  for (let w = 0; w < WRITES; w++) {
    let left = spectators.length;
    const done = new Promise((resolve) => { for (const c of spectators) c.inbox.set('log_pool', () => { if (--left === 0) resolve(); }); });
    const s = performance.now();
    const res = await fetch(`http://127.0.0.1:${mono.httpPort}/api/guilds/${GUILD}/pools/autoResponse/9${w}`, { method: 'PUT', headers: { authorization: `Bearer ${service}`, 'content-type': 'application/json' }, body: JSON.stringify({ trigger: `t${w}`, response: 'r' }) });
    if (!res.ok) throw new Error(`PUT failed ${res.status}`);
    await done;
    fanout.push(performance.now() - s);
  }
  const fanCpu = pids.reduce((a, p) => a + cpuMs(p), 0) - cpu1;
  console.log(JSON.stringify({
    search: { requests: SEARCHES, perSec: Math.round(SEARCHES / searchSecs), p50ms: +pct(lat, 50).toFixed(2), p99ms: +pct(lat, 99).toFixed(2), monolithAndRedisCpuUsPerSearch: +((searchCpu * 1000) / SEARCHES).toFixed(1) },
    logPoolFanout: { spectators: SPECTATORS, writes: WRITES, putToLastDeliveryP50ms: +pct(fanout, 50).toFixed(1), p99ms: +pct(fanout, 99).toFixed(1), serverCpuUsPerDelivery: +((fanCpu * 1000) / (WRITES * SPECTATORS)).toFixed(2) },
  }));
  for (const c of [searcher, ...spectators]) c.ws.terminate();
} finally {
  for (const c of children.reverse()) c.kill('SIGTERM');
}
