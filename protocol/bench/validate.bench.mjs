#!/usr/bin/env node
/**
 * Validation library measurement: the schemas the gateway validates most often, checked by
 * TypeBox's TypeCompiler (what protocol/src/validate.ts uses), ajv (compiled from the same JSON
 * Schema, with default options and with `unicode: false`), zod 3 (safeParse) and a hand-written
 * check, on valid and invalid inputs.
 *
 *   npm run build && node protocol/bench/validate.bench.mjs
 *
 * Each case warms up, then runs for BENCH_MS (default 1000) ms; the whole run (20 cases) stays
 * under a minute. Prints a markdown table of ops/s with the ratio to TypeBox. Results: RESULTS.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import os from 'node:os';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import Ajv from 'ajv';
import { z } from 'zod';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'dist');
if (!existsSync(join(dist, 'index.js'))) {
  process.stderr.write('validate.bench: protocol/dist is missing; run `npm run build` first\n');
  process.exit(1);
}
const { MessageFrame, AuthFrame, ROOM_PATTERN } = await import(pathToFileURL(join(dist, 'index.js')).href);
const BENCH_MS = Number(process.env.BENCH_MS ?? 1000);

// ---- the four validators per shape ----
const ajv = new Ajv();
// ajv counts string length in code points by default (a loop over every character of the
// token); `unicode: false` counts UTF-16 units like TypeBox does, so both are measured.
// (ajv marks the option deprecated; logger: false keeps that notice out of the table.)
const ajvUnits = new Ajv({ unicode: false, logger: false });
const roomRe = new RegExp(ROOM_PATTERN);

const zodMessage = z.object({
  type: z.literal('message'),
  token: z.string().min(1).max(8192),
  room: z.string().min(1).max(256),
  id: z.string().min(1).max(256),
  message: z.record(z.string(), z.unknown()),
});
const zodAuth = z.object({
  action: z.literal('auth'),
  token: z.string().min(1).max(8192),
  room: z.string().regex(roomRe).optional(),
  _id: z.union([z.number().int(), z.string().max(64)]).optional(),
});

const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v, min, max) => typeof v === 'string' && v.length >= min && v.length <= max;
function handMessage(v) {
  return (
    isObject(v) &&
    v.type === 'message' &&
    str(v.token, 1, 8192) &&
    str(v.room, 1, 256) &&
    str(v.id, 1, 256) &&
    isObject(v.message)
  );
}
function handAuth(v) {
  if (!isObject(v) || v.action !== 'auth' || !str(v.token, 1, 8192)) return false;
  if (v.room !== undefined && !(typeof v.room === 'string' && roomRe.test(v.room))) return false;
  if (v._id !== undefined && !(Number.isInteger(v._id) || str(v._id, 0, 64))) return false;
  return true;
}

const tbMessage = TypeCompiler.Compile(MessageFrame);
const tbAuth = TypeCompiler.Compile(AuthFrame);
const libraries = {
  TypeBox: { message: (v) => tbMessage.Check(v), auth: (v) => tbAuth.Check(v) },
  ajv: { message: ajv.compile(MessageFrame), auth: ajv.compile(AuthFrame) },
  'ajv unicode:false': { message: ajvUnits.compile(MessageFrame), auth: ajvUnits.compile(AuthFrame) },
  zod: { message: (v) => zodMessage.safeParse(v).success, auth: (v) => zodAuth.safeParse(v).success },
  hand: { message: handMessage, auth: handAuth },
};

// ---- inputs: what the balancer and monolith actually see ----
const token =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJuYW1lIjoiYWxpY2UiLCJndWlsZHMiOnsiMTIzNDU2Nzg5MCI6NTE5fSwic3ViIjoiYWxpY2UiLCJpYXQiOjE3OTU0MjUxMjksImV4cCI6MTc5NTUxMTUyOX0.I6w9LONM_hQiDfn3r1sVLFAR0TcT9IUwpT0XB-mWVtg';
const app = { event: 'pool_request', _id: 7, data: { type: 'member', guild_id: '1234567890', ids: ['1', '2', '3'] } };
// Parsed from JSON text each time a case starts, as they would be off the wire.
const cases = [
  { shape: 'message', input: 'valid', value: { type: 'message', token, room: 'user:alice', id: 'b-1a2b3c.42', message: app } },
  { shape: 'message', input: 'invalid (id is a number)', value: { type: 'message', token, room: 'user:alice', id: 42, message: app } },
  { shape: 'auth', input: 'valid', value: { action: 'auth', token, room: 'guild:1234567890', _id: 1 } },
  { shape: 'auth', input: 'invalid (room fails pattern)', value: { action: 'auth', token, room: 'user/../alice', _id: 1 } },
];

// Every validator must agree before any is timed.
for (const c of cases) {
  const want = c.input === 'valid';
  for (const [name, lib] of Object.entries(libraries)) {
    const got = lib[c.shape](c.value);
    if (got !== want) {
      process.stderr.write(`validate.bench: ${name} says ${got} for ${c.shape} ${c.input}\n`);
      process.exit(1);
    }
  }
}

let sink = 0;
/**
 * ops/s of `fn(value)`: 200 ms of warm-up, then three rounds of BENCH_MS / 3; the best round
 * counts, since on a shared machine noise only ever makes a round slower.
 */
function measure(fn, value) {
  // A fresh loop per case: a shared one would see every validator at one call site, turn
  // megamorphic and slow down whichever library happens to be measured later.
  const loop = new Function('fn', 'value', 'batch', 'let ok = 0; for (let i = 0; i < batch; i++) if (fn(value)) ok++; return ok;');
  const run = (ms) => {
    let n = 0;
    let batch = 1000;
    const start = process.hrtime.bigint();
    const limit = start + BigInt(Math.round(ms * 1e6));
    let now = start;
    while (now < limit) {
      sink += loop(fn, value, batch);
      n += batch;
      now = process.hrtime.bigint();
      if (batch < 100_000) batch *= 2;
    }
    return n / (Number(now - start) / 1e9);
  };
  run(200);
  return Math.max(run(BENCH_MS / 3), run(BENCH_MS / 3), run(BENCH_MS / 3));
}

const fmt = (ops) => (ops >= 1e6 ? `${(ops / 1e6).toFixed(2)}M` : `${(ops / 1e3).toFixed(0)}k`);
const names = Object.keys(libraries);
const rows = [];
const started = Date.now();
for (const c of cases) {
  const value = JSON.parse(JSON.stringify(c.value));
  const ops = Object.fromEntries(names.map((n) => [n, measure(libraries[n][c.shape], value)]));
  rows.push(
    `| ${c.shape} | ${c.input} | ${names.map((n) => `${fmt(ops[n])} (${(ops[n] / ops.TypeBox).toFixed(2)}×)`).join(' | ')} |`,
  );
}

const require = createRequire(import.meta.url);
const version = (pkg) => {
  // typebox does not export its package.json; find it from the resolved entry instead.
  let dir = dirname(require.resolve(pkg));
  while (!existsSync(join(dir, 'package.json')) || JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== pkg) {
    dir = dirname(dir);
  }
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
};
const cpu = os.cpus()[0]?.model ?? 'unknown cpu';
process.stdout.write(
  [
    `Node ${process.version}, ${cpu} (${os.cpus().length} cores); @sinclair/typebox ${version('@sinclair/typebox')}, ` +
      `ajv ${version('ajv')}, zod ${version('zod')}; ${BENCH_MS} ms per case, ${((Date.now() - started) / 1000).toFixed(1)} s total.`,
    '',
    `ops/s (ratio to TypeBox); higher is better.`,
    '',
    `| shape | input | ${names.join(' | ')} |`,
    `|---|---|${names.map(() => '---:').join('|')}|`,
    ...rows,
    '',
  ].join('\n'),
);
if (sink < 0) process.stdout.write(''); // keeps `sink` observable so no call is optimised away
