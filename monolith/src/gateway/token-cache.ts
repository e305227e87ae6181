import type { VerifyResult } from '@gateway/server-kit';

/**
 * Verification results by token (DESIGN §3: the monolith verifies every token it acts on), so a
 * failover that re-joins thousands of connections, or a reconnect storm, verifies each distinct
 * token once. Bounded: the oldest entry goes first. A cached success is good only until the
 * token's `exp`; after that the token is verified again (and refused as expired). Refusals are
 * not cached.
 */
export class TokenCache {
  /** The pending verification, replaced by its result once settled (a promise costs more memory). */
  private readonly entries = new Map<string, Promise<VerifyResult> | VerifyResult>();

  constructor(
    private readonly verify: (token: string) => Promise<VerifyResult>,
    private readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  check(token: string): Promise<VerifyResult> {
    const hit = this.entries.get(token);
    if (hit === undefined) return this.fresh(token);
    if (hit instanceof Promise) return hit.then((r) => (r.ok && r.expMs <= this.now() ? this.fresh(token) : r));
    return hit.ok && hit.expMs <= this.now() ? this.fresh(token) : Promise.resolve(hit);
  }

  get size(): number {
    return this.entries.size;
  }

  private fresh(token: string): Promise<VerifyResult> {
    const result = this.verify(token).then(
      (r) => {
        // Refusals are not kept: one may be transient (a JWKS endpoint that is down).
        if (this.entries.get(token) === result) {
          if (r.ok) this.entries.set(token, r);
          else this.entries.delete(token);
        }
        return r;
      },
      (err: Error): VerifyResult => {
        if (this.entries.get(token) === result) this.entries.delete(token);
        return { ok: false, reason: 'invalid', detail: err.message };
      },
    );
    this.entries.delete(token);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(token, result);
    return result;
  }
}
