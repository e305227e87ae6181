#!/usr/bin/env node
/**
 * The dashboard's development server (fastify, @fastify/static): serves the page and the built
 * SDK, mints demo tokens and proxies the two monolith calls a browser cannot make itself.
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
 * Every answer is `no-store` (a rebuilt SDK is picked up on reload) and `nosniff`; anything else,
 * a path that leaves its directory included, is 404 with the gateway's error body.
 *
 * Development only: anyone who can reach it gets a token for any subject.
 */
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import Fastify from 'fastify';
// Built by `npm run build` (scripts/run.mjs imports this file only after building).
import { ErrorCode, errorBody, isSnowflake } from '../protocol/dist/codes.js';
import { DEV_JWT_SECRET } from './dev-env.mjs';
import { devToken } from './dev-token.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

// Set here rather than by @fastify/send's table, which names JavaScript `application/javascript`.
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

const BODY_LIMIT = 16 * 1024;

/** A JSON object body (an absent one reads as `{}`); anything else is a 400. */
function objectBody(req) {
  const body = req.body ?? {};
  if (typeof body !== 'object' || Array.isArray(body)) throw Object.assign(new Error('body must be a JSON object'), { statusCode: 400 });
  return body;
}

/** Relays a monolith response (status and JSON body) to the browser. */
async function relay(reply, upstream) {
  const text = await upstream.text();
  return reply
    .code(upstream.status)
    .type(upstream.headers.get('content-type') ?? 'application/json; charset=utf-8')
    .send(text || '{}');
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

  const app = Fastify({ bodyLimit: BODY_LIMIT, forceCloseConnections: true });
  app.addHook('onRequest', async (_req, reply) => {
    reply.header('cache-control', 'no-store').header('x-content-type-options', 'nosniff');
  });
  const notFound = (_req, reply) => reply.code(404).send(errorBody(ErrorCode.NOT_FOUND, 'not found'));
  app.setNotFoundHandler(notFound);
  app.setErrorHandler((err, req, reply) => {
    // @fastify/send refuses a path that leaves its directory (or names one) with 403: answered as
    // a missing file, so a probe learns nothing about what exists.
    if (err.statusCode === 403) return notFound(req, reply);
    // A refused body (400, 413) is the caller's; anything else is the monolith not answering.
    const status = typeof err.statusCode === 'number' && err.statusCode < 500 ? err.statusCode : 502;
    return reply.code(status).send(errorBody(status === 502 ? ErrorCode.UNAVAILABLE : ErrorCode.BAD_REQUEST, err.message));
  });

  for (const [prefix, dir] of MOUNTS) {
    await app.register(fastifyStatic, {
      root: dir,
      prefix,
      // Only the first registration adds reply.sendFile (for `/`).
      decorateReply: prefix === MOUNTS[0][0],
      dotfiles: 'ignore',
      index: false,
      cacheControl: false,
      etag: false,
      lastModified: false,
      contentType: false,
      setHeaders: (res, path) => res.setHeader('content-type', MIME[extname(path)] ?? 'application/octet-stream'),
    });
  }
  app.get('/', (_req, reply) => reply.sendFile('index.html', MOUNTS[0][1]));
  app.get('/index.html', (_req, reply) => reply.sendFile('index.html', MOUNTS[0][1]));

  app.get('/config.json', async () => ({ ws: wsUrl }));
  app.post('/demo-token', async (req) => {
    const { sub: asked } = objectBody(req);
    const sub = typeof asked === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(asked) ? asked : 'alice';
    return { token: await devToken({ sub, name: sub, secret: jwtSecret }) };
  });
  app.post('/guest-token', async (_req, reply) => relay(reply, await fetch(`${monolithHttp}/api/tokens/guest`, { method: 'POST' })));
  app.put('/demo/auto-response', async (req, reply) => {
    const { guild_id: guild, id, trigger, response } = objectBody(req);
    if (!isSnowflake(guild) || !isSnowflake(id)) {
      return reply.code(400).send(errorBody(ErrorCode.BAD_REQUEST, 'guild_id and id must be snowflakes (digits)'));
    }
    if (typeof trigger !== 'string' || !trigger.trim() || typeof response !== 'string' || !response.trim()) {
      return reply.code(400).send(errorBody(ErrorCode.BAD_REQUEST, 'trigger and response must be non-empty strings'));
    }
    const upstream = await fetch(`${monolithHttp}/api/guilds/${guild}/pools/autoResponse/${id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${await service()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id, guild_id: guild, trigger: trigger.trim(), response: response.trim() }),
    });
    return relay(reply, upstream);
  });

  await app.listen({ port, host });
  const actual = app.server.address().port;
  return {
    port: actual,
    url: `http://${host}:${actual}/`,
    close: () => app.close(),
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
