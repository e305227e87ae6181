import { createHash } from 'node:crypto';
import type { VerifyResult } from '@gateway/server-kit';

/**
 * The cache key of a token: the first 128 bits of its SHA-256, as a 16-character string. Every
 * connection's token is its own entry, so the key is per-connection memory: about 40 B of heap
 * instead of the token's 200-1,000. A different token with the same key would need a second
 * preimage of truncated SHA-256, so a cached result is never another token's.
 */
export function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest().toString('latin1', 0, 16);
}

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
    const key = tokenKey(token);
    const hit = this.entries.get(key);
    if (hit === undefined) return this.fresh(token, key);
    if (hit instanceof Promise) return hit.then((r) => (r.ok && r.expMs <= this.now() ? this.fresh(token, key) : r));
    return hit.ok && hit.expMs <= this.now() ? this.fresh(token, key) : Promise.resolve(hit);
  }

  get size(): number {
    return this.entries.size;
  }

  private fresh(token: string, key: string): Promise<VerifyResult> {
    const result = this.verify(token).then(
      (r) => {
        // Refusals are not kept: one may be transient (a JWKS endpoint that is down).
        if (this.entries.get(key) === result) {
          if (r.ok) this.entries.set(key, r);
          else this.entries.delete(key);
        }
        return r;
      },
      (err: Error): VerifyResult => {
        if (this.entries.get(key) === result) this.entries.delete(key);
        return { ok: false, reason: 'invalid', detail: err.message };
      },
    );
    this.entries.delete(key);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, result);
    return result;
  }
}
