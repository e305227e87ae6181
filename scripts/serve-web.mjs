#!/usr/bin/env node
/**
 * The dashboard's static server (node:http, no dependencies): serves the page and the built SDK,
 * mints demo tokens and proxies the two monolith calls a browser cannot make itself.
 *
 *   node scripts/serve-web.mjs   (WEB_PORT, default 8081; MONOLITH_HTTP, default http://127.0.0.1:3000;
 *                                 WS_URL, default ws://127.0.0.1:8080/ws; JWT_SECRET, default the dev secret)
 *
 * Routes:
 *   GET  /                      web/index.html
 *   GET  /web/*                 web/*
 *   GET  /client/*              client/dist/*  (the SDK, an ES module)
 *   GET  /protocol/*            protocol/dist/* (the SDK imports /protocol/codes.js via the page's import map)
 *   GET  /config.json           {ws}: the balancer url(s) the page connects to unless its ?ws= says otherwise
 *   POST /demo-token            {sub} → {token}: an HS256 development token (scripts/dev-token.mjs)
 *   POST /guest-token           → the monolith's POST /api/tokens/guest
 *   PUT  /demo/auto-response    {guild_id, id, trigger, response} → the monolith's
 *                               PUT /api/guilds/:guild/pools/autoResponse/:id with a service token
 *
 * Development only: anyone who can reach it gets a token for any subject.
 */
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
// Built by `npm run build` (scripts/run.mjs imports this file only after building).
import { ErrorCode, errorBody, isSnowflake } from '../protocol/dist/codes.js';
import { DEV_JWT_SECRET } from './dev-env.mjs';
import { devToken } from './dev-token.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** URL prefix → directory it maps to. */
const MOUNTS = [
  ['/web/', join(root, 'web')],
  ['/client/', join(root, 'client', 'dist')],
  ['/protocol/', join(root, 'protocol', 'dist')],
];

/** The file a GET path names, or undefined (unknown prefix, traversal, NUL). */
export function resolveStatic(pathname) {
  if (pathname === '/' || pathname === '/index.html') return join(root, 'web', 'index.html');
  let decoded;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  for (const [prefix, dir] of MOUNTS) {
    if (!decoded.startsWith(prefix)) continue;
    const rest = decoded.slice(prefix.length);
    if (rest.split('/').some((part) => part === '..')) return undefined;
    const file = normalize(join(dir, rest));
    if (!file.startsWith(dir + sep)) return undefined;
    return file;
  }
  return undefined;
}

function send(res, status, body, type = 'application/json; charset=utf-8') {
  const data = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(data);
}

async function readJson(req, limit = 16 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw Object.assign(new Error('body too large'), { status: 413 });
    chunks.push(chunk);
  }
  if (size === 0) return {};
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value;
  } catch {
    throw Object.assign(new Error('body must be a JSON object'), { status: 400 });
  }
}

/** Relays a monolith response (status and JSON body) to the browser. */
async function relay(res, upstream) {
  const text = await upstream.text();
  send(res, upstream.status, text || '{}', upstream.headers.get('content-type') ?? 'application/json; charset=utf-8');
}

/**
 * Starts the server; resolves with `{port, url, close()}` once listening.
 * @param {{port?: number, host?: string, monolithHttp?: string, jwtSecret?: string, wsUrl?: string}} opts
 */
export async function startWebServer({
  port = 8081,
  host = '127.0.0.1',
  monolithHttp = 'http://127.0.0.1:3000',
  jwtSecret = DEV_JWT_SECRET,
  wsUrl = 'ws://127.0.0.1:8080/ws',
} = {}) {
  let serviceToken;
  const service = () => (serviceToken ??= devToken({ sub: 'web', admin: true, secret: jwtSecret }));

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const route = `${req.method} ${url.pathname}`;
      if (route === 'GET /config.json') return send(res, 200, { ws: wsUrl });
      if (route === 'POST /demo-token') {
        const body = await readJson(req);
        const sub = typeof body.sub === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(body.sub) ? body.sub : 'alice';
        return send(res, 200, { token: await devToken({ sub, name: sub, secret: jwtSecret }) });
      }
      if (route === 'POST /guest-token') {
        return relay(res, await fetch(`${monolithHttp}/api/tokens/guest`, { method: 'POST' }));
      }
      if (route === 'PUT /demo/auto-response') {
        const body = await readJson(req);
        const { guild_id: guild, id, trigger, response } = body;
        if (!isSnowflake(guild) || !isSnowflake(id)) {
          return send(res, 400, errorBody(ErrorCode.BAD_REQUEST, 'guild_id and id must be snowflakes (digits)'));
        }
        if (typeof trigger !== 'string' || !trigger.trim() || typeof response !== 'string' || !response.trim()) {
          return send(res, 400, errorBody(ErrorCode.BAD_REQUEST, 'trigger and response must be non-empty strings'));
        }
        const upstream = await fetch(`${monolithHttp}/api/guilds/${guild}/pools/autoResponse/${id}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${await service()}`, 'content-type': 'application/json' },
          body: JSON.stringify({ id, guild_id: guild, trigger: trigger.trim(), response: response.trim() }),
        });
        return relay(res, upstream);
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, errorBody(ErrorCode.BAD_REQUEST, 'method not allowed'));
      const file = resolveStatic(url.pathname);
      if (!file) return send(res, 404, errorBody(ErrorCode.NOT_FOUND, 'not found'));
      let data;
      try {
        data = await readFile(file);
      } catch {
        return send(res, 404, errorBody(ErrorCode.NOT_FOUND, 'not found'));
      }
      res.writeHead(200, {
        'content-type': MIME[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      });
      res.end(req.method === 'HEAD' ? undefined : data);
    } catch (err) {
      const status = err && typeof err.status === 'number' ? err.status : 502;
      if (!res.headersSent) send(res, status, { error: err instanceof Error ? err.message : String(err) });
      else res.destroy();
    }
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actual = server.address().port;
  return {
    port: actual,
    url: `http://${host}:${actual}/`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const web = await startWebServer({
    port: Number(process.env.WEB_PORT ?? 8081),
    monolithHttp: process.env.MONOLITH_HTTP ?? 'http://127.0.0.1:3000',
    jwtSecret: process.env.JWT_SECRET || DEV_JWT_SECRET,
    wsUrl: process.env.WS_URL ?? 'ws://127.0.0.1:8080/ws',
  });
  const { announceReady } = await import('../server-kit/dist/index.js');
  announceReady('web', { port: web.port });
  const stop = () => web.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
