/**
 * The gateway under test: one monolith (Redis broker) and one or two balancers linked to it, from
 * the built balancer/dist and monolith/dist (`node scripts/run.mjs build` first).
 * Published messages enter through Redis the way a service publishing directly must (README,
 * Delivery guarantees): the monolith's publish script appends `{"event":"m","data"}` to stream
 * `room:<room>` and publishes it with its position; the monolith fans each publication out as
 * one `publish` frame per balancer link, each balancer one native publish.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { linkProof } from '@gateway/server-kit';
import { freePort, killAll, pollReady, rootDir, startServer, startServerRetrying } from './processes.mjs';
import { streamPublisher } from './redis-feed.mjs';
import { classifyLink, jsonClient, linkConnectionId, payload } from './wire.mjs';

const MONOLITH = join(rootDir, 'monolith', 'dist', 'main.js');
const BALANCER = join(rootDir, 'balancer', 'dist', 'main.js');
const LINK_INIT = '{"type":"init"';
/** Room history as the monolith is configured (its defaults: HISTORY_ROOM_SIZE, HISTORY_ROOM_TTL_S). */
const ROOM_HISTORY = { size: 100, ttlMs: 300_000 };
/** Recent publications the monolith keeps in memory per stream (HISTORY_WINDOW, its default). */
const WINDOW = 100;

/**
 * The client side of a socket straight to the monolith's link endpoint (`direct` in start()'s
 * result): one link carrying one connection, to price the balancer hop without the balancer.
 * The link handshake comes first (docs/protocol.md, Balancer ↔ monolith link): the monolith's `init` is
 * answered with the balancer's `hello` proof of LINK_SECRET (`options.linkSecret`), bound to
 * this socket's `x-link-nonce` and `x-balancer-id`, then the `join`. `classify` gets the
 * connection (`token`, `room`, `headers`, `options`) for that; `ping` needs the token and room,
 * since every link envelope carries them (INTERFACE.md, Changes).
 */
export const directClient = {
  path: '/link',
  hello() {
    return [];
  },
  classify(text, conn) {
    if (!text.startsWith(LINK_INIT)) return classifyLink(text);
    const init = JSON.parse(text);
    const proof = linkProof(conn.options.linkSecret, 'balancer', {
      balancerNonce: conn.headers['x-link-nonce'],
      monolithNonce: init.nonce,
      balancerId: conn.headers['x-balancer-id'],
      monolithId: init.id,
    });
    const join = { type: 'join', token: conn.token, room: conn.room, id: linkConnectionId(conn.token) };
    return { kind: 'reply', frames: [JSON.stringify({ type: 'hello', token: proof }), JSON.stringify(join)] };
  },
  ping(id, token, room) {
    if (typeof token !== 'string') throw new Error('directClient.ping(id, token, room): the link envelope needs the connection token and room');
    return `{"type":"message","token":${JSON.stringify(token)},"room":${JSON.stringify(room)},"id":${JSON.stringify(linkConnectionId(token))},"message":{"event":"ping","_id":${id}}}`;
  },
};

export default {
  name: 'gateway',
  label: 'gateway (uWS balancer + monolith)',

  /**
   * `redisClusterNodes` ("host:port,..."), instead of `redisUrl`, runs the monolith on Redis
   * Cluster (REDIS_CLUSTER_NODES). `sharedPort`: every balancer on one port with
   * BALANCER_REUSE_PORT (one url; the kernel spreads the connections), for more sockets than
   * one process may hold (the scale curve).
   */
  async start({ redisUrl, redisClusterNodes, jwtSecret, balancers = 1, host = '127.0.0.1', sharedPort = false }) {
    for (const script of [MONOLITH, BALANCER]) {
      if (!existsSync(script)) throw new Error(`${script} is missing: build with node_modules/.bin/tsc -b protocol balancer monolith`);
    }
    const linkSecret = `bench-link-${randomBytes(12).toString('hex')}`;
    const common = { JWT_SECRET: jwtSecret, LINK_SECRET: linkSecret, MONOLITH_LOG_LEVEL: 'warn', BALANCER_LOG_LEVEL: 'warn' };
    const monolithEnv = (httpPort, linkPort) => ({
      ...common,
      MONOLITH_HOST: host,
      MONOLITH_HTTP_PORT: String(httpPort),
      MONOLITH_LINK_PORT: String(linkPort),
      MONOLITH_ID: 'bench-m1',
      ...(redisClusterNodes ? { REDIS_CLUSTER_NODES: redisClusterNodes } : { REDIS_URL: redisUrl }),
      HISTORY_ROOM_SIZE: String(ROOM_HISTORY.size),
      HISTORY_ROOM_TTL_S: String(ROOM_HISTORY.ttlMs / 1000),
      HISTORY_WINDOW: String(WINDOW),
      // The request/response scenarios send far more than an interactive user would.
      INTERPRET_RATE: '1000000',
      INTERPRET_BURST: '1000000',
    });
    const shared = sharedPort ? await freePort() : undefined;
    const balancerEnv = (i, port, linkPort) => ({
      ...common,
      BALANCER_HOST: host,
      BALANCER_PORT: String(shared ?? port),
      ...(shared ? { BALANCER_REUSE_PORT: 'true' } : {}),
      // Several balancers run side by side: each takes a free admin (/metrics) port.
      ADMIN_PORT: '0',
      BALANCER_ID: `bench-b${i + 1}`,
      MONOLITHS: `${host}:${linkPort}`,
      MESSAGE_RATE: '1000000',
      MESSAGE_BURST: '1000000',
      MAX_CONNECTIONS: '100000',
      // The load generator opens every socket from one address.
      MAX_UNAUTHENTICATED: '100000',
      MAX_UNAUTHENTICATED_PER_IP: '100000',
      CONNECT_RATE_PER_IP: '1000000',
      CONNECT_BURST_PER_IP: '1000000',
    });

    const servers = [];
    const balancerProcs = [];
    let monolith;
    const monolithReady = () =>
      pollReady(host, monolith.info.httpPort, '/ready', 20_000, (body) => body?.ready === true && body.links >= balancerProcs.length);
    // The admin port: with a shared client port, /ready there is whichever balancer the kernel picks.
    const balancerReady = (b) => pollReady(host, b.info.adminPort, '/ready');

    try {
      monolith = await startServer({ role: 'monolith', script: MONOLITH, env: monolithEnv(0, 0), readyName: 'monolith' });
      servers.push(monolith);
      for (let i = 0; i < balancers; i++) {
        const b = await startServer({ role: 'balancer', script: BALANCER, env: balancerEnv(i, 0, monolith.info.linkPort), readyName: 'balancer' });
        servers.push(b);
        balancerProcs.push(b);
      }
      await Promise.all([monolithReady(), ...balancerProcs.map(balancerReady)]);
    } catch (err) {
      await killAll(servers);
      throw err;
    }

    const { httpPort, linkPort } = monolith.info;
    // History on: what the monolith stores for its own room publications; off: size 0, as
    // HISTORY_ROOM_SIZE=0 would publish (positions assigned, nothing stored).
    let history = true;
    let publisher;
    try {
      publisher = await streamPublisher(redisClusterNodes ? { clusterNodes: redisClusterNodes } : redisUrl, () => (history ? ROOM_HISTORY : { size: 0, ttlMs: ROOM_HISTORY.ttlMs }));
    } catch (err) {
      await killAll(servers);
      throw err;
    }
    const processes = () => servers.map((s) => ({ role: s.role, pid: s.pid }));

    return {
      urls: shared ? [`ws://${host}:${shared}/ws`] : balancerProcs.map((b) => `ws://${host}:${b.info.port}/ws`),
      /** Each balancer's admin port (`/metrics`), by pid. */
      get admin() {
        return balancerProcs.map((b) => ({ pid: b.pid, port: b.info.adminPort }));
      },
      get processes() {
        return processes();
      },
      direct: {
        url: `ws://${host}:${linkPort}/link`,
        headers: { 'x-link-nonce': randomBytes(12).toString('hex'), 'x-balancer-id': 'bench-direct' },
        client: directClient,
        options: { linkSecret },
      },
      publish: (room, payloadString) => publisher.publish(`room:${room}`, payloadString),
      setHistory(on) {
        history = on;
      },
      /** The room history policy publications get now, and the monolith's window. */
      history: () => ({ size: history ? ROOM_HISTORY.size : 0, ttlMs: ROOM_HISTORY.ttlMs, window: WINDOW }),
      async gc() {
        await Promise.all(servers.map((s) => s.gc()));
      },
      async restart(role, { whileDown } = {}) {
        if (role === 'balancer') {
          const old = balancerProcs[0];
          await old.kill();
          await whileDown?.();
          const b = await startServerRetrying({ role: 'balancer', script: BALANCER, env: balancerEnv(0, old.info.port, linkPort), readyName: 'balancer' });
          balancerProcs[0] = b;
          servers[servers.indexOf(old)] = b;
          await balancerReady(b);
        } else if (role === 'monolith') {
          await monolith.kill();
          await whileDown?.();
          const m = await startServerRetrying({ role: 'monolith', script: MONOLITH, env: monolithEnv(httpPort, linkPort), readyName: 'monolith' });
          servers[servers.indexOf(monolith)] = m;
          monolith = m;
          // Ready when every balancer has linked to the new process again.
          await Promise.all([monolithReady(), ...balancerProcs.map(balancerReady)]);
        } else {
          throw new Error(`gateway has no role ${role} (balancer, monolith)`);
        }
      },
      async stop() {
        publisher.close();
        await killAll(servers);
      },
    };
  },

  client: jsonClient,
  payload,
};
