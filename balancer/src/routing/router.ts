import type { Log } from '@gateway/server-kit';
import { MonolithLink, type LinkHandler, type LinkOptions } from '../monolith-link.js';
import { rendezvous } from './rendezvous.js';
import { RoomOwners } from './room-owners.js';

/**
 * The balancer's view of monoliths: one link per discovered address, the ready ones by monolith
 * id, and room ownership. `pick(room)` is the routing decision: the announced owner if it is
 * linked, else rendezvous hashing over the linked monoliths.
 */
export class Router {
  readonly owners = new RoomOwners();
  private readonly links = new Map<string, MonolithLink>();
  private readonly ready = new Map<string, MonolithLink>();

  constructor(
    private readonly opts: LinkOptions,
    private readonly handler: LinkHandler,
    private readonly log: Log,
  ) {}

  /**
   * Replaces the set of monolith addresses: dials new ones, stops removed ones. A removed
   * address whose link is up is only retired, and stopped when that link goes down: a discovery
   * source that briefly lists nothing (a restarted Redis registry, a DNS hiccup) must not
   * unlink healthy monoliths. A monolith that leaves on purpose drains and closes its link.
   */
  setAddresses(addresses: readonly string[]): void {
    const wanted = new Set(addresses);
    for (const [address, link] of this.links) {
      link.retired = !wanted.has(address);
      if (link.retired && link.state !== 'ready') this.remove(address, link);
    }
    for (const address of wanted) {
      if (this.links.has(address)) continue;
      const link = new MonolithLink(address, this.opts, this.handler, this.log);
      this.links.set(address, link);
      link.start();
    }
  }

  private remove(address: string, link: MonolithLink): void {
    this.links.delete(address);
    link.stop();
    this.log.info('monolith removed by discovery', { address });
  }

  linkReady(link: MonolithLink): void {
    if (link.monolithId) this.ready.set(link.monolithId, link);
  }

  /** A draining monolith takes no new rooms and loses its claims; its link stays for the moves. */
  linkDraining(link: MonolithLink): void {
    if (link.monolithId && this.ready.get(link.monolithId) === link) {
      this.ready.delete(link.monolithId);
      this.owners.dropMonolith(link.monolithId);
    }
  }

  linkDown(link: MonolithLink): void {
    this.linkDraining(link);
    if (link.retired && this.links.get(link.address) === link) this.remove(link.address, link);
  }

  pick(room: string): MonolithLink | undefined {
    const owner = this.owners.owner(room);
    if (owner !== undefined) {
      const link = this.ready.get(owner);
      if (link) return link;
    }
    const id = rendezvous(room, this.ready.keys());
    return id === undefined ? undefined : this.ready.get(id);
  }

  byId(monolithId: string): MonolithLink | undefined {
    return this.ready.get(monolithId);
  }

  get readyCount(): number {
    return this.ready.size;
  }

  allLinks(): IterableIterator<MonolithLink> {
    return this.links.values();
  }

  stop(): void {
    for (const link of this.links.values()) link.stop();
    this.links.clear();
    this.ready.clear();
  }
}
