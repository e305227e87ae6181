/**
 * The two-hop floor: the gateway's shape (front processes that clients connect to, one backend
 * that answers their requests over one batched connection per front) with nothing else in it.
 * The fronts are bench/peers/uws-raw.mjs with RELAY_BACKEND set (auth, rooms and fan-out as the
 * ceiling's); requests go over plain TCP lines, the cheapest link there is, to
 * bench/peers/relay-backend.mjs. What request/response costs here over raw uWS is the price of
 * the second hop itself, whatever runs on it; the gateway's figures are read against both.
 */
import { join } from 'node:path';
import { startPeerServers } from './peer-servers.mjs';
import { benchDir, startServer } from './processes.mjs';
import { redisPublisher } from './redis-feed.mjs';
import { jsonClient, payload } from './wire.mjs';

export default {
  name: 'uws-relay',
  label: 'raw uWS relay + backend (two-hop floor)',

  async start({ redisUrl, jwtSecret, balancers = 1, host = '127.0.0.1', sharedPort = false }) {
    const backend = await startServer({ role: 'relay-backend', script: join(benchDir, 'peers', 'relay-backend.mjs'), env: { PORT: '0', HOST: host }, readyName: 'relay-backend' });
    let fronts;
    try {
      const publisher = redisPublisher(redisUrl, (room) => room);
      fronts = await startPeerServers({ name: 'uws-raw', count: balancers, redisUrl, jwtSecret, host, path: '/ws', publisher, sharedPort, env: { RELAY_BACKEND: `${host}:${backend.info.port}` } });
    } catch (err) {
      await backend.kill();
      throw err;
    }
    return {
      urls: fronts.urls,
      get processes() {
        return [...fronts.processes, { role: backend.role, pid: backend.pid }];
      },
      publish: fronts.publish,
      async gc() {
        await Promise.all([fronts.gc(), backend.gc()]);
      },
      // The fronts are the processes clients connect to (the storms restart the one behind urls[0]).
      restart(role) {
        if (role !== 'uws-relay' && role !== 'uws-raw') throw new Error(`uws-relay has no role ${role} (uws-relay: a front)`);
        return fronts.restart('uws-raw');
      },
      async stop() {
        await fronts.stop();
        await backend.kill();
      },
    };
  },

  client: jsonClient,
  payload,
};
