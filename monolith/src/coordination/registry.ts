import { registryMember } from '@gateway/protocol';
import type { Log } from '@gateway/server-kit';
import type { Coordination } from './coordination.js';

/**
 * This monolith's entry in the registry (protocol/src/registry.ts): announced every third of
 * the TTL, withdrawn on drain. Balancers with MONOLITH_REGISTRY dial what it lists.
 */
export class RegistryHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private readonly member: string;

  constructor(
    private readonly coordination: Coordination,
    id: string,
    address: string,
    private readonly ttlMs: number,
    private readonly log: Log,
  ) {
    this.member = registryMember(id, address);
  }

  start(): void {
    const beat = async () => {
      try {
        await this.coordination.announce(this.member, this.ttlMs);
      } catch (err) {
        this.log.warn('registry heartbeat failed', { err: (err as Error).message });
      }
    };
    void beat();
    this.timer = setInterval(beat, Math.max(100, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  /** Stops renewing and withdraws the entry, best effort (it expires by TTL anyway). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.coordination.withdraw(this.member).catch(() => {});
  }
}
