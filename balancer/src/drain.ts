import type { Log } from '@gateway/server-kit';
import type { Sessions } from './client-session.js';
import { SessionEvent } from './session-states.js';

/**
 * The balancer's SIGTERM drain: once started, `active` stays true (the upgrade refuses new
 * sockets with DRAINING, `/ready` answers 503) and the clients there are closed with DRAINING,
 * spread evenly over DRAIN_WINDOW_MS so they do not all reconnect elsewhere at once.
 */
export class Drain {
  active = false;

  constructor(
    private readonly sessions: Sessions,
    private readonly windowMs: number,
    private readonly log: Log,
  ) {}

  /** Resolves once every client that was there when it started is closed; a second call returns at once. */
  async run(): Promise<void> {
    if (this.active) return;
    // Keep listening: /ready must answer 503 to health checks, and a socket that still
    // arrives is upgraded and closed with DRAINING so its client reconnects elsewhere.
    this.active = true;
    const { sessions, windowMs } = this;
    const queue = [...sessions.all.values()];
    const total = queue.length;
    const started = Date.now();
    this.log.info('draining', { clients: total, windowMs });
    await new Promise<void>((resolve) => {
      const step = () => {
        // Close the share of clients whose time has come: an even spread over the window.
        const due = windowMs === 0 ? total : Math.ceil((total * (Date.now() - started)) / windowMs);
        while (queue.length > total - Math.min(due, total)) sessions.close(queue.shift()!, SessionEvent.DRAIN, 'DRAINING');
        if (queue.length === 0) return resolve();
        setTimeout(step, Math.max(10, Math.min(100, windowMs / 100)));
      };
      step();
    });
  }
}
