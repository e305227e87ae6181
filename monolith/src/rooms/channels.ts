import { encodeWithMessage, encodeM2B } from '@gateway/protocol';
import type { LinkPeer } from './links.js';
import type { Conn } from './rooms.js';

/**
 * Fan-out channels (DESIGN §3): pushes that are not room-scoped (a guild's events reach its
 * spectators, whatever their rooms). The balancer keeps the members (uWS topic
 * `<monolith id>/<channel>`); this side counts them per link so a publish is one frame to each
 * balancer that has subscribers, and none to the others.
 */
export class Channels {
  private readonly links = new Map<string, Map<LinkPeer, number>>();

  subscribe(conn: Conn, channel: string): void {
    let perLink = this.links.get(channel);
    if (!perLink) this.links.set(channel, (perLink = new Map()));
    perLink.set(conn.link, (perLink.get(conn.link) ?? 0) + 1);
    conn.link.send(encodeM2B({ type: 'subscribe', id: conn.id, channel }));
  }

  unsubscribe(conn: Conn, channel: string): void {
    const perLink = this.links.get(channel);
    if (perLink) {
      const n = (perLink.get(conn.link) ?? 1) - 1;
      if (n > 0) perLink.set(conn.link, n);
      else perLink.delete(conn.link);
      if (perLink.size === 0) this.links.delete(channel);
    }
    conn.link.send(encodeM2B({ type: 'unsubscribe', id: conn.id, channel }));
  }

  /** Sends serialized client JSON to every subscriber; returns the number of link frames. */
  publish(channel: string, messageJson: string): number {
    const perLink = this.links.get(channel);
    if (!perLink) return 0;
    const frame = encodeWithMessage({ type: 'publish', channel }, messageJson);
    for (const link of perLink.keys()) link.send(frame);
    return perLink.size;
  }

  /** A balancer link is gone: its sockets, and their subscriptions, went with it. */
  dropLink(link: LinkPeer): void {
    for (const [channel, perLink] of this.links) {
      perLink.delete(link);
      if (perLink.size === 0) this.links.delete(channel);
    }
  }

  subscribers(channel: string): number {
    let n = 0;
    for (const c of this.links.get(channel)?.values() ?? []) n += c;
    return n;
  }
}
