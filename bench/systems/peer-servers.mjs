/**
 * The server side shared by the peer adapters (uws-raw, ws-loop, socketio): one or two processes
 * of one script under bench/peers/, each on its own port, all sharing the Redis they are fed from.
 */
import { join } from 'node:path';
import { benchDir, freePort, killAll, startServer, startServerRetrying } from './processes.mjs';

/**
 * Starts `count` processes of bench/peers/<name>.mjs with role `name` and returns the INTERFACE.md
 * handle. `publisher` is how the system is fed: `{ publish(room, payloadString), close() }`.
 * restart(name) restarts the first process (the one behind urls[0]) on the same port.
 * `sharedPort`: every process on one fixed port (uWS binds a fixed port with SO_REUSEPORT by
 * default; the scale curve's uws-raw), one url. `env`: more environment for every process.
 */
export async function startPeerServers({ name, count, redisUrl, jwtSecret, host, path, publisher, sharedPort = false, env: extra = {} }) {
  const shared = sharedPort ? await freePort() : 0;
  const script = join(benchDir, 'peers', `${name}.mjs`);
  const env = (port) => ({ ...extra, PORT: String(port), HOST: host, JWT_SECRET: jwtSecret, REDIS_URL: redisUrl });
  const servers = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await startServer({ role: name, script, env: env(shared), readyName: name }));
  } catch (err) {
    await killAll(servers);
    publisher.close();
    throw err;
  }
  return {
    urls: shared ? [`ws://${host}:${shared}${path}`] : servers.map((s) => `ws://${host}:${s.info.port}${path}`),
    get processes() {
      return servers.map((s) => ({ role: s.role, pid: s.pid }));
    },
    publish: (room, payloadString) => publisher.publish(room, payloadString),
    async gc() {
      await Promise.all(servers.map((s) => s.gc()));
    },
    async restart(role) {
      if (role !== name) throw new Error(`${name} has no role ${role} (${name})`);
      const old = servers[0];
      await old.kill();
      servers[0] = await startServerRetrying({ role: name, script, env: env(old.info.port), readyName: name });
    },
    async stop() {
      publisher.close();
      await killAll(servers);
    },
  };
}
