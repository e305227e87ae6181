/** A balancer link as the room state sees it. `send` never throws. */
export interface LinkPeer {
  readonly id: string;
  send(frame: string): void;
  /**
   * Resolves when the link can take a burst (a recovery's replay): its unsent bytes are below a
   * low-water mark. Callers are let through one at a time, in order, so a reconnect storm's
   * replays are paced by what the balancer reads instead of piling past the link's buffer bound
   * (which resets the link). Undefined: no pacing (test doubles).
   */
  drained?(): Promise<void>;
}

/**
 * The balancer links connected to this monolith: every one hears each ownership announcement
 * (`loaded`, `unloaded`, gossip) and the drain.
 */
export class Links {
  private readonly links = new Set<LinkPeer>();

  add(link: LinkPeer): void {
    this.links.add(link);
  }

  /** Forgets a link that closed; its connections are left by `Rooms.leaveLink`. */
  delete(link: LinkPeer): void {
    this.links.delete(link);
  }

  /** Sends a link frame to every balancer. */
  toAll(frame: string): void {
    for (const link of this.links) link.send(frame);
  }

  get size(): number {
    return this.links.size;
  }
}
