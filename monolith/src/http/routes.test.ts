import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { guildLogsStream, guildStream, roomStream } from '@gateway/protocol';
import { Metrics, createLog, createSigner, createVerifier } from '@gateway/server-kit';
import type { Broker, HistoryPolicy, PublicationHandler, PublishOptions } from '../hub/broker.js';
import { Hub } from '../hub/hub.js';
import { MemoryBroker } from '../hub/memory-broker.js';
import { Links } from '../rooms/links.js';
import { MemoryStore } from '../store/memory-store.js';
import { registerGuildRoutes } from './guild-routes.js';
import { registerJsonBody } from './json-body.js';
import { registerRoutes } from './routes.js';
import { registerTokenRoutes } from './tokens.js';

// Every HTTP route through fastify's inject, on a real Hub over the MemoryBroker and the memory
// store: what a 2xx stored and published is read back from the broker's history.

const secret = 'routes-test-secret-0123456789abcdef';
const sign = createSigner(secret);
const verify = createVerifier({ secret });
const GUILD = '123456789012345678';

/** The MemoryBroker with a switch: while down, publish rejects and `connected` is false. */
class SwitchableBroker implements Broker {
  readonly inner = new MemoryBroker();
  up = true;
  get connected(): boolean {
    return this.up;
  }
  publish(stream: string, data: string, opts: PublishOptions) {
    return this.up ? this.inner.publish(stream, data, opts) : Promise.reject(new Error('broker down'));
  }
  subscribe(stream: string) {
    return this.inner.subscribe(stream);
  }
  unsubscribe(stream: string) {
    return this.inner.unsubscribe(stream);
  }
  history(stream: string, opts: { since?: number | undefined; limit: number }) {
    return this.inner.history(stream, opts);
  }
  onPublication(handler: PublicationHandler) {
    this.inner.onPublication(handler);
  }
  onConnectionChange() {}
  onResubscribed() {}
  streams() {
    return this.inner.streams();
  }
  close() {
    return this.inner.close();
  }
}

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

function build(opts: { signer?: boolean } = {}) {
  const broker = new SwitchableBroker();
  const history: HistoryPolicy = { size: 100, ttlMs: 60_000 };
  const hub = new Hub(broker, { publish: () => 0 }, { policyOf: () => history, channelOf: (s) => s }, { windowSize: 0, maxReplay: 100, log: createLog('test', 'error') });
  const store = new MemoryStore();
  const links = new Links();
  const metrics = new Metrics();
  metrics.counter('unit_test_total', 'a counter the test sets').value = 3;
  app = Fastify();
  registerJsonBody(app);
  registerRoutes(app, { hub, links, metrics, verify, monolithId: 'm-unit' });
  registerTokenRoutes(app, { verify, sign: opts.signer === false ? undefined : sign, guestLimit: { perMinute: 600, burst: 100 } });
  registerGuildRoutes(app, { hub, store, verify });
  const a = app;
  const send = async (o: InjectOptions & { token?: string }) => {
    const { token, ...rest } = o;
    const res = await a.inject({ ...rest, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(rest.headers ?? {}) } });
    return { status: res.statusCode, body: res.body ? (res.headers['content-type']?.toString().includes('json') ? res.json() : res.body) : undefined, headers: res.headers };
  };
  /** The messages stored on a stream, parsed. */
  const stored = async (stream: string) => (await hub.history(stream, undefined, 100)).publications.map((p) => JSON.parse(p.data) as unknown);
  return { broker, store, links, send, stored };
}

const admin = () => sign({ sub: 'ops', admin: true }, 600);
const service = () => sign({ sub: 'backend', service: true }, 600);
const user = () => sign({ sub: 'alice' }, 600);

describe('GET /health, /ready, /metrics', () => {
  it('health names the monolith; ready follows the broker (503 while down) and counts links', async () => {
    const t = build();
    expect(await t.send({ method: 'GET', url: '/health' })).toMatchObject({ status: 200, body: { ok: true, monolith: 'm-unit' } });
    t.links.add({ id: 'b1', send() {} });
    expect(await t.send({ method: 'GET', url: '/ready' })).toMatchObject({ status: 200, body: { ready: true, broker: true, links: 1 } });
    t.broker.up = false;
    expect(await t.send({ method: 'GET', url: '/ready' })).toMatchObject({ status: 503, body: { ready: false, broker: false, links: 1 } });
  });

  it('metrics is Prometheus text with the registered series', async () => {
    const t = build();
    const res = await t.send({ method: 'GET', url: '/metrics' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain('# TYPE unit_test_total counter');
    expect(res.body).toMatch(/^unit_test_total 3$/m);
  });
});

describe('service authentication (every publishing route)', () => {
  const routes: InjectOptions[] = [
    { method: 'POST', url: '/api/rooms/lobby/broadcast', payload: { event: 'x' } },
    { method: 'PUT', url: `/api/guilds/${GUILD}/pools/member/u1`, payload: { name: 'n' } },
    { method: 'DELETE', url: `/api/guilds/${GUILD}/pools/member/u1` },
    { method: 'POST', url: `/api/guilds/${GUILD}/logs`, payload: {} },
    { method: 'POST', url: '/api/users/42/messages', payload: { event: 'x' } },
    { method: 'PUT', url: '/api/users/42/guilds', payload: [] },
  ];

  it.each(routes.map((r) => [`${r.method} ${r.url}`, r] as const))('%s: 401 without or with a bad token, 403 for a plain user', async (_name, route) => {
    const t = build();
    expect(await t.send(route)).toMatchObject({ status: 401, body: { code: 'token_rejected', message: 'a bearer token is required' } });
    expect(await t.send({ ...route, token: 'not.a.jwt' })).toMatchObject({ status: 401, body: { code: 'token_rejected', message: 'token refused: invalid' } });
    const other = await createSigner('another-secret-0123456789abcdef-xyz')({ sub: 'ops', admin: true }, 600);
    expect((await t.send({ ...route, token: other })).status).toBe(401);
    expect(await t.send({ ...route, token: await user() })).toMatchObject({ status: 403, body: { code: 'forbidden' } });
  });
});

describe('POST /api/rooms/:room/broadcast', () => {
  it('stores {event, data} on the room stream and answers 202 with its position; an Idempotency-Key lands once', async () => {
    const t = build();
    const token = await admin();
    const first = await t.send({ method: 'POST', url: '/api/rooms/lobby/broadcast', token, payload: { event: 'hi', data: { n: 1 } }, headers: { 'idempotency-key': 'k1' } });
    expect(first).toMatchObject({ status: 202, body: { accepted: true, room: 'lobby', stream: roomStream('lobby'), offset: 1, epoch: expect.any(String) } });
    const again = await t.send({ method: 'POST', url: '/api/rooms/lobby/broadcast', token, payload: { event: 'hi', data: { n: 1 } }, headers: { 'idempotency-key': 'k1' } });
    expect(again).toMatchObject({ status: 202, body: { offset: 1, duplicate: true } });
    expect(await t.stored(roomStream('lobby'))).toEqual([{ event: 'hi', data: { n: 1 } }]);
  });

  it('400 for an invalid room name, a body without event, or a malformed Idempotency-Key; nothing stored', async () => {
    const t = build();
    const token = await service();
    expect(await t.send({ method: 'POST', url: '/api/rooms/a%20b/broadcast', token, payload: { event: 'x' } })).toMatchObject({ status: 400, body: { code: 'bad_request', message: 'invalid room name' } });
    expect(await t.send({ method: 'POST', url: '/api/rooms/lobby/broadcast', token, payload: { data: 1 } })).toMatchObject({ status: 400, body: { code: 'bad_request' } });
    expect(await t.send({ method: 'POST', url: '/api/rooms/lobby/broadcast', token, payload: { event: 'x' }, headers: { 'idempotency-key': 'has space' } })).toMatchObject({ status: 400, body: { code: 'bad_request' } });
    expect(await t.stored(roomStream('lobby'))).toEqual([]);
  });

  it('503 unavailable when the broker cannot store it', async () => {
    const t = build();
    t.broker.up = false;
    expect(await t.send({ method: 'POST', url: '/api/rooms/lobby/broadcast', token: await admin(), payload: { event: 'x' } })).toMatchObject({ status: 503, body: { code: 'unavailable', message: expect.stringContaining('broker down') } });
  });
});

describe('PUT and DELETE /api/guilds/:guild_id/pools/:type/:id', () => {
  it('PUT stores the entity (id from the path) and publishes log_pool on the guild stream', async () => {
    const t = build();
    const token = await service();
    const put = await t.send({ method: 'PUT', url: `/api/guilds/${GUILD}/pools/member/u1`, token, payload: { name: 'Ann' } });
    expect(put).toMatchObject({ status: 200, body: { stored: true, stream: guildStream(GUILD), offset: 1 } });
    expect(await t.store.get('member', GUILD, ['u1'])).toEqual({ data: [{ name: 'Ann', id: 'u1' }], nonexistent: [] });
    // A pool that is not guild-scoped is stored without the guild.
    await t.send({ method: 'PUT', url: `/api/guilds/${GUILD}/pools/user/u1`, token, payload: { id: 'u1', name: 'Ann' } });
    expect((await t.store.get('user', undefined, ['u1'])).data).toEqual([{ id: 'u1', name: 'Ann' }]);
    expect(await t.stored(guildStream(GUILD))).toEqual([
      { event: 'log_pool', data: { type: 'member', guild_id: GUILD, entity: { name: 'Ann', id: 'u1' } } },
      { event: 'log_pool', data: { type: 'user', guild_id: GUILD, entity: { id: 'u1', name: 'Ann' } } },
    ]);
  });

  it('PUT answers 400 for a bad guild id, pool type, id or body, storing nothing', async () => {
    const t = build();
    const token = await service();
    const bad = [
      [`/api/guilds/abc/pools/member/u1`, { name: 'x' }, 'guild_id must be a snowflake (digits)'],
      [`/api/guilds/${GUILD}/pools/nope/u1`, { name: 'x' }, 'unknown pool type nope'],
      [`/api/guilds/${GUILD}/pools/member/${'x'.repeat(65)}`, { name: 'x' }, 'invalid id'],
      [`/api/guilds/${GUILD}/pools/member/u1`, { id: 'u2' }, 'body must be a JSON object whose id, if given, matches the path'],
      [`/api/guilds/${GUILD}/pools/member/u1`, [1, 2], 'body must be a JSON object whose id, if given, matches the path'],
    ] as const;
    for (const [url, payload, message] of bad) {
      expect(await t.send({ method: 'PUT', url, token, payload: payload as never })).toMatchObject({ status: 400, body: { code: 'bad_request', message } });
    }
    expect(await t.store.count('member', GUILD)).toBe(0);
    expect(await t.stored(guildStream(GUILD))).toEqual([]);
  });

  it('PUT answers 503 when stored but not announced, and a retry announces it', async () => {
    const t = build();
    const token = await service();
    t.broker.up = false;
    expect((await t.send({ method: 'PUT', url: `/api/guilds/${GUILD}/pools/role/r1`, token, payload: { name: 'mod' } })).status).toBe(503);
    expect((await t.store.get('role', GUILD, ['r1'])).data).toHaveLength(1);
    t.broker.up = true;
    expect((await t.send({ method: 'PUT', url: `/api/guilds/${GUILD}/pools/role/r1`, token, payload: { name: 'mod' } })).status).toBe(200);
    expect(await t.stored(guildStream(GUILD))).toHaveLength(1);
  });

  it('DELETE removes and publishes deleted: true; 404 when absent', async () => {
    const t = build();
    const token = await service();
    await t.send({ method: 'PUT', url: `/api/guilds/${GUILD}/pools/channel/c1`, token, payload: { name: 'general' } });
    expect(await t.send({ method: 'DELETE', url: `/api/guilds/${GUILD}/pools/channel/c1`, token })).toMatchObject({ status: 200, body: { deleted: true, offset: 2 } });
    expect((await t.store.get('channel', GUILD, ['c1'])).nonexistent).toEqual(['c1']);
    expect(await t.send({ method: 'DELETE', url: `/api/guilds/${GUILD}/pools/channel/c1`, token })).toMatchObject({ status: 404, body: { code: 'not_found' } });
    expect((await t.stored(guildStream(GUILD)))[1]).toEqual({ event: 'log_pool', data: { type: 'channel', guild_id: GUILD, id: 'c1', deleted: true } });
  });
});

describe('POST /api/guilds/:guild_id/logs', () => {
  const entry = { id: '1', guild_id: GUILD, action_number: 3, agent_id: '2', subject_id: null, private: false, reversible: true, timestamp: 1700000000 };

  it('stores log_other on the guild logs stream (202); 400 for an invalid entry or another guild', async () => {
    const t = build();
    const token = await service();
    expect(await t.send({ method: 'POST', url: `/api/guilds/${GUILD}/logs`, token, payload: entry })).toMatchObject({ status: 202, body: { accepted: true, stream: guildLogsStream(GUILD) } });
    expect(await t.stored(guildLogsStream(GUILD))).toEqual([{ event: 'log_other', data: entry }]);
    expect(await t.send({ method: 'POST', url: `/api/guilds/${GUILD}/logs`, token, payload: { ...entry, action_number: -2 } })).toMatchObject({ status: 400, body: { code: 'bad_request' } });
    expect(await t.send({ method: 'POST', url: `/api/guilds/${GUILD}/logs`, token, payload: { ...entry, id: 'x1' } })).toMatchObject({ status: 400, body: { code: 'bad_request' } });
    expect(await t.send({ method: 'POST', url: '/api/guilds/999/logs', token, payload: entry })).toMatchObject({ status: 400, body: { message: 'guild_id differs from the path' } });
    expect(await t.stored(guildLogsStream('999'))).toEqual([]);
  });

  it("takes the architus backend's entry as it is: big integer ids unrounded, no timestamp, action_number -1, extra keys", async () => {
    const t = build();
    const token = await service();
    // Written as the Python shard serializes it: integers, some beyond 2^53 (JSON.stringify cannot).
    const body = `{"id":1749506853102735360,"guild_id":${GUILD},"discord_object":800000000000000001,"private":false,"reversible":false,"action_number":-1,"agent_id":100000000000000001,"subject_id":null,"data":{"availible":true}}`;
    const res = await t.send({ method: 'POST', url: `/api/guilds/${GUILD}/logs`, token, payload: body, headers: { 'content-type': 'application/json' } });
    expect(res).toMatchObject({ status: 202, body: { accepted: true } });
    expect(await t.stored(guildLogsStream(GUILD))).toEqual([
      {
        event: 'log_other',
        data: {
          id: '1749506853102735360',
          guild_id: GUILD,
          discord_object: '800000000000000001',
          private: false,
          reversible: false,
          action_number: -1,
          agent_id: '100000000000000001',
          subject_id: null,
          data: { availible: true },
          // (1749506853102735360 >> 22) ms after 2015-01-01: 2028-03-20T17:15:38.045Z.
          timestamp: 1837185338045,
        },
      },
    ]);
    expect(1837185338045 - Date.UTC(2015, 0, 1)).toBe(Number(1749506853102735360n >> 22n));
    // Malformed JSON is a 400 as before, stored nowhere.
    const bad = await t.send({ method: 'POST', url: `/api/guilds/${GUILD}/logs`, token, payload: body.slice(0, -1), headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect(await t.stored(guildLogsStream(GUILD))).toHaveLength(1);
  });
});

describe('PUT /api/users/:id/guilds', () => {
  const discord = [
    { id: '1234567890', name: 'With the bot', icon: 'a1', owner: true, permissions: '2147483647', features: ['COMMUNITY'] },
    { id: '2345678901', name: 'Without', owner: false, permissions: 32 },
  ];

  it("stores the user's Discord guilds with numeric permissions and defaults, replacing the last list", async () => {
    const t = build();
    const token = await service();
    expect(await t.send({ method: 'PUT', url: '/api/users/42/guilds', token, payload: discord })).toMatchObject({ status: 200, body: { stored: true, guilds: 2 } });
    expect(await t.store.userGuilds('42')).toEqual([
      { id: '1234567890', name: 'With the bot', icon: 'a1', owner: true, permissions: 2147483647, features: ['COMMUNITY'] },
      { id: '2345678901', name: 'Without', icon: null, owner: false, permissions: 32, features: [] },
    ]);
    expect(await t.send({ method: 'PUT', url: '/api/users/42/guilds', token, payload: [] })).toMatchObject({ status: 200, body: { guilds: 0 } });
    expect(await t.store.userGuilds('42')).toEqual([]);
  });

  it('400 for a bad user id, a body that is not a guild list, or permissions beyond 2^53; nothing stored', async () => {
    const t = build();
    const token = await service();
    const put = (url: string, payload: unknown) => t.send({ method: 'PUT', url, token, payload: payload as object });
    expect(await put('/api/users/..%2Fetc/guilds', discord)).toMatchObject({ status: 400, body: { message: 'invalid user id' } });
    for (const bad of [{ guilds: discord }, [{ ...discord[0], id: 12 }], [{ ...discord[0], permissions: '9007199254740993' }], Array.from({ length: 501 }, () => discord[1])]) {
      expect((await put('/api/users/42/guilds', bad)).status, JSON.stringify(bad).slice(0, 80)).toBe(400);
    }
    expect(await t.store.userGuilds('42')).toBeUndefined();
  });
});

describe('POST /api/users/:id/messages', () => {
  it("stores {event, data} on the user's own stream (202); 400 for an id that forms no room or a bad body", async () => {
    const t = build();
    const token = await admin();
    expect(await t.send({ method: 'POST', url: '/api/users/42/messages', token, payload: { event: 'dm', data: 'hi' } })).toMatchObject({ status: 202, body: { accepted: true, stream: 'user:42' } });
    expect(await t.stored('user:42')).toEqual([{ event: 'dm', data: 'hi' }]);
    expect(await t.send({ method: 'POST', url: '/api/users/..%2Fetc/messages', token, payload: { event: 'dm' } })).toMatchObject({ status: 400, body: { message: 'invalid user id' } });
    expect(await t.send({ method: 'POST', url: '/api/users/42/messages', token, payload: { data: 1 } })).toMatchObject({ status: 400, body: { code: 'bad_request' } });
  });
});

describe('POST /api/tokens/guest and /api/tokens/ws', () => {
  it('mints a guest token that verifies as a guest with its own jti', async () => {
    const t = build();
    const a = await t.send({ method: 'POST', url: '/api/tokens/guest' });
    const b = await t.send({ method: 'POST', url: '/api/tokens/guest' });
    expect(a).toMatchObject({ status: 200, body: { token: expect.any(String), expires_in: 3600 } });
    const va = await verify((a.body as { token: string }).token);
    const vb = await verify((b.body as { token: string }).token);
    expect(va).toMatchObject({ ok: true, guest: true, claims: { guest: true, name: 'Guest' } });
    expect(va.ok && vb.ok && va.subject !== vb.subject).toBe(true);
  });

  it('trades a primary token for a 60 s websocket token of the same identity with a fresh jti; 401 without one', async () => {
    const t = build();
    const primary = await sign({ sub: 'alice', name: 'Alice', guilds: { [GUILD]: 1 } }, 600);
    const res = await t.send({ method: 'POST', url: '/api/tokens/ws', token: primary });
    expect(res).toMatchObject({ status: 200, body: { expires_in: 60 } });
    const v = await verify((res.body as { token: string }).token);
    expect(v).toMatchObject({ ok: true, subject: 'alice', claims: { use: 'ws', name: 'Alice', guilds: { [GUILD]: 1 }, jti: expect.any(String) } });
    expect(v.ok && v.expMs - Date.now()).toBeLessThanOrEqual(61_000);
    expect(await t.send({ method: 'POST', url: '/api/tokens/ws' })).toMatchObject({ status: 401, body: { code: 'token_rejected' } });
  });

  it('answers 501 on both when the monolith has no signing secret', async () => {
    const t = build({ signer: false });
    expect(await t.send({ method: 'POST', url: '/api/tokens/guest' })).toMatchObject({ status: 501, body: { code: 'unavailable' } });
    expect((await t.send({ method: 'POST', url: '/api/tokens/ws', token: await user() })).status).toBe(501);
  });
});
