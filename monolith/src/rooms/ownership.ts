import { encodeM2B } from '@gateway/protocol';
import { redisRetryDelay, type Log } from '@gateway/server-kit';
import type { EpochSource } from '../coordination/coordination.js';
import type { LinkPeer, Links } from './links.js';

export interface OwnershipDeps {
  epochs: EpochSource;
  /** Where the announcements go. */
  links: Pick<Links, 'toAll'>;
  log: Log;
}

/** A room loaded here; its epoch is known once one was taken (Redis may be away for a while). */
interface Claim {
  readonly room: string;
  epoch: number | undefined;
}

/**
 * This monolith's claims on the rooms it loads (DESIGN §4): each loaded room takes an epoch and
 * is announced `loaded` to every balancer, `unloaded` when it goes, and listed in the gossip a
 * balancer gets on link-up and periodically. A balancer routes a room to its announced owner,
 * the older epoch winning a conflict; a room not announced yet is placed by hashing.
 */
export class Ownership {
  private readonly claims = new Map<string, Claim>();
  /** Set while the monolith drains: rooms it still loads are not announced (no new claims). */
  draining = false;

  constructor(private readonly deps: OwnershipDeps) {}

  /** A room was loaded here: take an epoch and announce it. */
  loaded(room: string): void {
    const claim: Claim = { room, epoch: undefined };
    this.claims.set(room, claim);
    this.announce(claim, 0);
  }

  /** A room was unloaded here: balancers that heard `loaded` hear `unloaded`. */
  unloaded(room: string, reason: string): void {
    const claim = this.claims.get(room);
    if (!claim) return;
    this.claims.delete(room);
    if (claim.epoch !== undefined) this.deps.links.toAll(encodeM2B({ type: 'unloaded', room, reason }));
  }

  /** A balancer linked: it learns every announced room (unless this monolith drains: no claims). */
  greet(link: LinkPeer): void {
    if (!this.draining) link.send(this.gossipFrame());
  }

  /** Every announced room with its epoch. */
  gossipFrame(): string {
    const rooms: Array<{ room: string; epoch: number }> = [];
    for (const c of this.claims.values()) if (c.epoch !== undefined) rooms.push({ room: c.room, epoch: c.epoch });
    return encodeM2B({ type: 'gossip', rooms });
  }

  /** Takes an epoch and announces `loaded`; retried with back-off while Redis is unreachable. */
  private announce(claim: Claim, attempt: number): void {
    const { room } = claim;
    this.deps.epochs.next(room).then(
      (epoch) => {
        // Unloaded (and maybe loaded anew) meanwhile: this epoch is no one's.
        if (this.claims.get(room) !== claim || this.draining) return;
        claim.epoch = epoch;
        this.deps.links.toAll(encodeM2B({ type: 'loaded', room, epoch }));
      },
      (err: Error) => {
        if (this.claims.get(room) !== claim) return;
        if (attempt === 0) this.deps.log.warn('no epoch for room yet; routing stays by hashing, retrying', { room, err: err.message });
        setTimeout(() => this.announce(claim, attempt + 1), redisRetryDelay(attempt)).unref();
      },
    );
  }
}
