/**
 * The wire contract: what crosses a wire (client ↔ balancer ↔ monolith frames, HTTP bodies,
 * tokens' claims, stream positions, the Redis registry's members) and the catalogues both ends
 * and the SDK share. Browser-safe: no Node built-ins (the tsconfig has no Node types); TypeBox
 * is its one dependency, for the frames' schemas and validators. Server helpers are in
 * @gateway/server-kit.
 */
export * from './ids.js';
export * from './close-codes.js';
export * from './errors.js';
export * from './events.js';
export * from './client.js';
export * from './link.js';
export * from './gateway.js';
export * from './validate.js';
export * from './json-depth.js';
export * from './backoff.js';
export * from './gateway-api.js';
export * from './registry.js';
export * from './streams.js';
