import type { Redis } from 'ioredis';
import { REGISTRY_KEY, registryMember } from '@gateway/protocol';
import type { Log } from '@gateway/protocol/node';

/**
 * This monolith's entry in the Redis registry (protocol/src/registry.ts): renewed every third
 * of the TTL, removed on drain. Balancers with MONOLITH_REGISTRY dial what it lists.
 */
export class RegistryHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private readonly member: string;

  constructor(
    private readonly redis: Redis,
    id: string,
    address: string,
    private readonly ttlMs: number,
    private readonly log: Log,
  ) {
    this.member = registryMember(id, address);
  }

  start(): void {
    const beat = async () => {
      const now = Date.now();
      try {
        await this.redis.multi().zadd(REGISTRY_KEY, now + this.ttlMs, this.member).zremrangebyscore(REGISTRY_KEY, '-inf', now).exec();
      } catch (err) {
        this.log.warn('registry heartbeat failed', { err: (err as Error).message });
      }
    };
    void beat();
    this.timer = setInterval(beat, Math.max(100, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.zrem(REGISTRY_KEY, this.member).catch(() => 0);
  }
}
