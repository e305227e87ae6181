/** Redis topologies and connections for both services (Node-only; loads ioredis). */
export * from './redis-topology.js';
export * from './redis-connect.js';
