/**
 * Redis topologies and connections for both services: `@gateway/server-kit/redis`, an entry of
 * its own so that what imports the rest of the kit (scripts, benchmarks) does not load ioredis.
 */
export * from './redis-topology.js';
export * from './redis-connect.js';
