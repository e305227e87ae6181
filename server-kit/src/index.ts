/**
 * The server toolkit both services share (Node only: crypto, stderr, files): typed config, JWT,
 * link authentication and TLS, the link writer, metrics, the token bucket, logs, ready lines,
 * exiting with the parent.
 * What crosses a wire is not here but in @gateway/protocol, which the browser SDK imports too.
 * Redis topologies and connections are the `./redis` entry (redis.ts), which loads ioredis.
 */
export * from './config-schema.js';
export * from './jwt-config.js';
export * from './listen.js';
export * from './metrics.js';
export * from './token-bucket.js';
export * from './redis-retry.js';
export * from './jwt.js';
export * from './link-auth.js';
export * from './log.js';
export * from './source-key.js';
export * from './link-tls.js';
export * from './link-writer.js';
export * from './ready-line.js';
export * from './exit-with-parent.js';
