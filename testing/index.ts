// Helpers shared by unit and e2e tests: spawned processes, a redis-server per file, polling with a
// deadline, and JWT minting (valid and deliberately broken tokens).
export * from './processes.js';
export * from './redis.js';
export * from './redis-topologies.js';
export * from './tokens.js';
export * from './wait.js';
