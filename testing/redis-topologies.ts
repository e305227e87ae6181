// Real Redis Cluster and Sentinel topologies on free loopback ports, for tests of the gateway's
// cluster and sentinel support. Each topology lives in its own temp dir (node configs, sentinel
// configs, replicas' sync files), removed by `stop()`. Never REDIS_URL: these are always spawned.
// The helpers talk to Redis over a tiny RESP2 client (`redisCommand`) because testing/ is not a
// workspace package and has no ioredis of its own.


export * from './resp.js';
export { type RedisNode } from './redis-nodes.js';
export * from './redis-cluster.js';
export * from './redis-sentinel.js';
