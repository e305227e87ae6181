import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, createLog, createSigner } from '@gateway/server-kit';
import { buildApp, type App } from '../app.js';
import { loadConfig } from '../config.js';

// CORS on the token endpoints through the whole app (buildApp: embedded, nothing listens), so the
// wiring from MONOLITH_CORS_ORIGINS to the routes is what is tested, with fastify's inject.

const secret = 'cors-test-secret-0123456789abcdef';
const base = { JWT_SECRET: secret, LINK_SECRET: 'cors-test-link-secret-0123' };
const APP = 'https://app.example.com';
const OTHER = 'https://evil.example.net';

let app: App | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

function build(origins: string | undefined, env: Record<string, string> = {}): FastifyInstance {
  const config = loadConfig({ ...base, ...(origins === undefined ? {} : { MONOLITH_CORS_ORIGINS: origins }), ...env }, () => {});
  app = buildApp(config, createLog('test', 'error'));
  return app.http;
}

const preflight = (http: FastifyInstance, url: string, origin: string, headers = 'authorization') =>
  http.inject({ method: 'OPTIONS', url, headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': headers } });
const post = (http: FastifyInstance, url: string, origin: string, headers: Record<string, string> = {}) =>
  http.inject({ method: 'POST', url, headers: { origin, ...headers } });

describe('MONOLITH_CORS_ORIGINS', () => {
  it('is empty by default, reads a comma list and *, and refuses what an Origin header never is', () => {
    expect(loadConfig(base, () => {}).MONOLITH_CORS_ORIGINS).toEqual([]);
    expect(loadConfig({ ...base, MONOLITH_CORS_ORIGINS: ` ${APP}, http://localhost:5173 ` }, () => {}).MONOLITH_CORS_ORIGINS).toEqual([APP, 'http://localhost:5173']);
    expect(loadConfig({ ...base, MONOLITH_CORS_ORIGINS: '*' }, () => {}).MONOLITH_CORS_ORIGINS).toEqual(['*']);
    for (const bad of ['app.example.com', 'https://app.example.com/', 'https://App.example.com', 'https://app.example.com/path', 'https://app.example.com:443']) {
      const problems = (() => {
        try {
          loadConfig({ ...base, MONOLITH_CORS_ORIGINS: `http://localhost:5173,${bad}` }, () => {});
        } catch (err) {
          if (err instanceof ConfigError) return err.problems;
          throw err;
        }
        return [];
      })();
      expect(problems, bad).toEqual([expect.stringMatching(new RegExp(`^MONOLITH_CORS_ORIGINS must be origins .*"${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}"$`))]);
    }
  });
});

describe('CORS on the token endpoints', () => {
  it('unset: no CORS header anywhere, and a preflight finds no route', async () => {
    const http = build(undefined);
    const res = await post(http, '/api/tokens/guest', APP);
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect((await preflight(http, '/api/tokens/guest', APP)).statusCode).toBe(404);
  });

  it('answers a listed origin\'s preflight and requests, a guest token and a websocket token alike', async () => {
    const http = build(`${APP},http://localhost:5173`);
    for (const url of ['/api/tokens/guest', '/api/tokens/ws']) {
      const pre = await preflight(http, url, APP, 'authorization, content-type');
      expect(pre.statusCode, url).toBe(204);
      expect(pre.headers).toMatchObject({
        'access-control-allow-origin': APP,
        'access-control-allow-methods': 'POST',
        'access-control-allow-headers': 'authorization, content-type, x-request-id',
        'access-control-max-age': '600',
      });
      expect(pre.headers['access-control-allow-credentials']).toBeUndefined();
      expect(String(pre.headers.vary)).toMatch(/origin/i);
    }
    const guest = await post(http, '/api/tokens/guest', 'http://localhost:5173');
    expect(guest.statusCode).toBe(200);
    expect(guest.headers['access-control-allow-origin']).toBe('http://localhost:5173');
    const primary = await createSigner(secret)({ sub: 'alice' }, 600);
    const ws = await post(http, '/api/tokens/ws', APP, { authorization: `Bearer ${primary}` });
    expect(ws.statusCode).toBe(200);
    expect(ws.headers['access-control-allow-origin']).toBe(APP);
    // A refusal is readable by the page too (it shows why).
    const refused = await post(http, '/api/tokens/ws', APP);
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['access-control-allow-origin']).toBe(APP);
  });

  it('gives an origin not listed no Access-Control-Allow-Origin, on the preflight and the request', async () => {
    const http = build(APP);
    const pre = await preflight(http, '/api/tokens/ws', OTHER);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    const res = await post(http, '/api/tokens/guest', OTHER);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    // The origin is compared whole: a listed origin's prefix or another port is another origin.
    for (const origin of [`${APP}.evil.net`, 'https://app.example.com:8443', 'http://app.example.com', 'null']) {
      expect((await post(http, '/api/tokens/guest', origin)).headers['access-control-allow-origin'], origin).toBeUndefined();
    }
  });

  it('exposes Retry-After, so a page can honour a 429 of the guest-token limit', async () => {
    const http = build(APP, { GUEST_TOKEN_RATE: '1', GUEST_TOKEN_BURST: '1' });
    expect((await post(http, '/api/tokens/guest', APP)).statusCode).toBe(200);
    const limited = await post(http, '/api/tokens/guest', APP);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers).toMatchObject({ 'access-control-allow-origin': APP, 'retry-after': '60' });
    expect(String(limited.headers['access-control-expose-headers'])).toMatch(/retry-after/);
  });

  it('* allows any origin', async () => {
    const http = build('*');
    expect((await post(http, '/api/tokens/guest', OTHER)).headers['access-control-allow-origin']).toBe('*');
  });

  it('leaves every other endpoint without CORS: service-token endpoints and probes are not for browsers', async () => {
    const http = build('*');
    for (const [method, url] of [
      ['GET', '/health'],
      ['GET', '/metrics'],
      ['POST', '/api/rooms/lobby/broadcast'],
      ['POST', '/api/guilds/1234567890/logs'],
      ['PUT', '/api/guilds/1234567890/pools/member/1'],
      ['POST', '/api/users/alice/messages'],
    ] as const) {
      const res = await http.inject({ method, url, headers: { origin: APP } });
      expect(res.headers['access-control-allow-origin'], url).toBeUndefined();
      const pre = await preflight(http, url, APP);
      expect(pre.statusCode, url).toBe(404);
      expect(pre.headers['access-control-allow-origin'], url).toBeUndefined();
    }
  });
});
