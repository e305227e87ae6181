/**
 * The auth step every peer shares with the gateway, so connect+auth rates compare like with like:
 * an HS256 JWT verified with jose (signature, `exp`, `nbf`), a room name checked against the
 * gateway's pattern, and a welcome of the same shape and size as the gateway's.
 */
import { jwtVerify } from 'jose';
import { isPrivateRoom, isRoomName } from '@gateway/protocol';
import { announceReady } from '@gateway/server-kit';

/** Reads the peers' settings once (the only place a peer reads `process.env`). */
export function peerConfig(name, env = process.env) {
  const config = {
    port: Number(env.PORT ?? 0),
    host: env.HOST ?? '127.0.0.1',
    jwtSecret: env.JWT_SECRET ?? '',
    redisUrl: env.REDIS_URL ?? '',
  };
  const problems = [];
  if (config.jwtSecret.length < 16) problems.push('JWT_SECRET must be at least 16 characters');
  if (!/^rediss?:\/\//.test(config.redisUrl)) problems.push('REDIS_URL is required (redis://host:port)');
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) problems.push('PORT must be 0-65535');
  if (problems.length) {
    process.stderr.write(`${name}: ${problems.join('; ')}\n`);
    process.exit(2);
  }
  return Object.freeze(config);
}

/** Returns `(token) => Promise<claims>`; rejects on a bad signature, algorithm or time claim. */
export function createVerifier(secret) {
  const key = new TextEncoder().encode(secret);
  return async (token) => (await jwtVerify(token, key, { algorithms: ['HS256'] })).payload;
}

export function validRoom(room) {
  return isRoomName(room) && !isPrivateRoom(room);
}

/** The gateway's welcome `data` (connection id, room, user, permissions, serving process). */
export function welcomeData(id, room, claims, server) {
  return {
    id,
    room,
    user: { id: String(claims.sub ?? ''), name: claims.name ?? null, guest: claims.guest === true },
    permissions: { admin: claims.admin === true, guilds: claims.guilds ?? {} },
    monolith: server,
  };
}

/** Prints the machine-readable ready line the adapters wait for (the gateway services' format). */
export function announce(name, port) {
  announceReady(name, { port });
}

/** Exits on SIGINT/SIGTERM (adapters normally SIGKILL; this is for runs by hand). */
export function exitOnSignals() {
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
}
