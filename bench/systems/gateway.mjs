/**
 * The gateway under test: one monolith (Redis bus) and one or two balancers linked to it, from
 * the built balancer/dist and monolith/dist (`tsc -b protocol balancer monolith` first).
 * Published messages enter as the README's bus format, `PUBLISH room:<room> {"event","data"}`;
 * the monolith sends one broadcast frame per balancer link, each balancer one native publish.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { killAll, pollReady, rootDir, startServer, startServerRetrying } from './processes.mjs';
import { redisPublisher } from './redis-feed.mjs';
import { classifyLink, jsonClient, linkConnectionId, payload } from './wire.mjs';

const MONOLITH = join(rootDir, 'monolith', 'dist', 'main.js');
const BALANCER = join(rootDir, 'balancer', 'dist', 'main.js');

/**
 * The client side of a socket straight to the monolith's link endpoint (`direct` in start()'s
 * result): one link carrying one connection, to price the balancer hop without the balancer.
 * `ping` needs the connection's token and room, since every link envelope carries them
 * (INTERFACE.md, Changes).
 */
export const directClient = {
  path: '/link',
  hello(token, room) {
    return [JSON.stringify({ type: 'join', token, room, id: linkConnectionId(token) })];
  },
  classify: classifyLink,
  ping(id, token, room) {
    if (typeof token !== 'string') throw new Error('directClient.ping(id, token, room): the link envelope needs the connection token and room');
    return `{"type":"message","token":${JSON.stringify(token)},"room":${JSON.stringify(room)},"id":${JSON.stringify(linkConnectionId(token))},"message":{"event":"ping","_id":${id}}}`;
  },
};

export default {
  name: 'gateway',
  label: 'gateway (uWS balancer + monolith)',

  async start({ redisUrl, jwtSecret, balancers = 1, host = '127.0.0.1' }) {
    for (const script of [MONOLITH, BALANCER]) {
      if (!existsSync(script)) throw new Error(`${script} is missing: build with node_modules/.bin/tsc -b protocol balancer monolith`);
    }
    const linkSecret = `bench-link-${randomBytes(12).toString('hex')}`;
    const common = { JWT_SECRET: jwtSecret, LINK_SECRET: linkSecret, LOG_LEVEL: 'warn' };
    const monolithEnv = (httpPort, linkPort) => ({
      ...common,
      HOST: host,
      HTTP_PORT: String(httpPort),
      LINK_PORT: String(linkPort),
      MONOLITH_ID: 'bench-m1',
      REDIS_URL: redisUrl,
      // The request/response scenarios send far more than an interactive user would.
      INTERPRET_RATE: '1000000',
      INTERPRET_BURST: '1000000',
    });
    const balancerEnv = (i, port, linkPort) => ({
      ...common,
      BALANCER_HOST: host,
      BALANCER_PORT: String(port),
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
    const balancerReady = (b) => pollReady(host, b.info.port, '/ready');

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
    // README, bus formats: `room:<room>` carries `{"event","data"}` to every member of the room.
    const publisher = redisPublisher(redisUrl, (room) => `room:${room}`);
    const processes = () => servers.map((s) => ({ role: s.role, pid: s.pid }));

    return {
      urls: balancerProcs.map((b) => `ws://${host}:${b.info.port}/ws`),
      get processes() {
        return processes();
      },
      direct: {
        url: `ws://${host}:${linkPort}/link`,
        headers: { authorization: `Bearer ${linkSecret}`, 'x-link-nonce': randomBytes(12).toString('hex'), 'x-balancer-id': 'bench-direct' },
        client: directClient,
      },
      publish: (room, payloadString) => publisher.publish(room, payloadString),
      async gc() {
        await Promise.all(servers.map((s) => s.gc()));
      },
      async restart(role) {
        if (role === 'balancer') {
          const old = balancerProcs[0];
          await old.kill();
          const b = await startServerRetrying({ role: 'balancer', script: BALANCER, env: balancerEnv(0, old.info.port, linkPort), readyName: 'balancer' });
          balancerProcs[0] = b;
          servers[servers.indexOf(old)] = b;
          await balancerReady(b);
        } else if (role === 'monolith') {
          await monolith.kill();
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
