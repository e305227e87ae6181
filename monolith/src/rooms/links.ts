/** A balancer link as the room state sees it. `send` never throws. */
export interface LinkPeer {
  readonly id: string;
  send(frame: string): void;
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
