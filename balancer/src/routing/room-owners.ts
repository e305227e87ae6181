/**
 * What this balancer knows of room ownership: the monolith that announced `loaded` for a room,
 * with its epoch. When two monoliths claim one room the older (lower) epoch wins, as in
 * DESIGN §4; rooms nobody announced are placed by rendezvous hashing.
 */
export interface Claim {
  monolith: string;
  epoch: number;
}

export class RoomOwners {
  private readonly claims = new Map<string, Claim>();

  /**
   * Records a claim. Returns the monolith that lost a conflict (the claimant itself when an
   * older claim stands, or the previous owner when this claim is older), else undefined.
   */
  loaded(room: string, monolith: string, epoch: number): string | undefined {
    const current = this.claims.get(room);
    if (current && current.monolith !== monolith && current.epoch < epoch) return monolith;
    this.claims.set(room, { monolith, epoch });
    return current && current.monolith !== monolith ? current.monolith : undefined;
  }

  unloaded(room: string, monolith: string): void {
    if (this.claims.get(room)?.monolith === monolith) this.claims.delete(room);
  }

  /** Forgets every claim of a monolith whose link is gone. */
  dropMonolith(monolith: string): void {
    for (const [room, claim] of this.claims) if (claim.monolith === monolith) this.claims.delete(room);
  }

  owner(room: string): string | undefined {
    return this.claims.get(room)?.monolith;
  }

  get size(): number {
    return this.claims.size;
  }
}
