import { fullBucket, isFull, takeToken, type Bucket } from '@gateway/server-kit';

/** The settings admission reads (a slice of BalancerConfig, so tests pass plain numbers). */
export interface AdmissionLimits {
  readonly MAX_CONNECTIONS: number;
  readonly CONNECT_RATE: number;
  readonly CONNECT_BURST: number;
  readonly CONNECT_RATE_PER_IP: number;
  readonly CONNECT_BURST_PER_IP: number;
  readonly MAX_UNAUTHENTICATED: number;
  readonly MAX_UNAUTHENTICATED_PER_IP: number;
  readonly MAX_ANONYMOUS_GUESTS: number;
  readonly ANONYMOUS_GUESTS_PER_IP: number;
}

/**
 * Why a new socket is refused. The rule: a balancer-wide budget that is used up is SERVER_FULL
 * (4005: this balancer has no room, try another); a per-source limit or a rate is RATE_LIMITED
 * (4002: this client should slow down). Both are reconnect codes, so a legitimate client that
 * meets them backs off and retries.
 */
export type Refusal = 'SERVER_FULL' | 'RATE_LIMITED';

/**
 * Past this many sources with a partly used rate bucket, a new source gets only the
 * balancer-wide CONNECT_RATE: the map stays bounded even when every socket comes from another
 * address (a source that many addresses gains nothing from a per-source limit anyway).
 */
export const MAX_TRACKED_SOURCES = 100_000;

/**
 * Who may open a socket (Finding 5 of the security audit: 200 unauthenticated loops from one
 * address must not lock out everyone else). Per source: a connect-rate bucket and a cap on
 * sockets that have not finished auth; balancer-wide: MAX_CONNECTIONS, CONNECT_RATE and
 * MAX_UNAUTHENTICATED, a budget for sockets that have not finished auth, smaller than
 * MAX_CONNECTIONS, so sockets that never authenticate cannot take the places of users who do.
 *
 * Contract: every `admit()` that returns undefined is matched by exactly one `release()` of the
 * same source, when the socket authenticates or closes, whichever comes first. Pure: time is
 * passed in, nothing is scheduled; `sweep()` forgets full buckets.
 */
export class Admission {
  private readonly balancer: Bucket;
  private readonly rates = new Map<string, Bucket>();
  /** Sockets per source that have not finished auth; a source with none has no entry. */
  private readonly pending = new Map<string, number>();
  private pendingTotal = 0;
  /** Tokenless guest sessions per source. */
  private readonly anon = new Map<string, number>();
  private anonTotal = 0;

  constructor(
    private readonly limits: AdmissionLimits,
    now: number,
  ) {
    this.balancer = fullBucket(now, limits.CONNECT_BURST);
  }

  /** Sockets admitted that have not authenticated (or closed) yet. */
  get unauthenticated(): number {
    return this.pendingTotal;
  }

  /** Sources with a rate bucket that has not refilled yet. */
  get trackedSources(): number {
    return this.rates.size;
  }

  /**
   * Decides on a new socket from `source` (a `sourceKey`) while `open` sockets are served.
   * Undefined admits it, and it counts as unauthenticated until `release(source)`.
   */
  admit(source: string, open: number, now: number): Refusal | undefined {
    const l = this.limits;
    if (open >= l.MAX_CONNECTIONS) return 'SERVER_FULL';
    const pending = this.pending.get(source) ?? 0;
    // Limits that need no token first: a refused socket must not spend any bucket's tokens.
    if (pending >= l.MAX_UNAUTHENTICATED_PER_IP) return 'RATE_LIMITED';
    if (this.pendingTotal >= l.MAX_UNAUTHENTICATED) return 'SERVER_FULL';
    let bucket = this.rates.get(source);
    if (bucket === undefined && this.rates.size < MAX_TRACKED_SOURCES) {
      bucket = fullBucket(now, l.CONNECT_BURST_PER_IP);
      this.rates.set(source, bucket);
    }
    if (bucket !== undefined && !takeToken(bucket, now, l.CONNECT_RATE_PER_IP, l.CONNECT_BURST_PER_IP)) return 'RATE_LIMITED';
    // Balancer-wide rate last: one source over its own rate does not spend everyone's tokens.
    if (!takeToken(this.balancer, now, l.CONNECT_RATE, l.CONNECT_BURST)) return 'RATE_LIMITED';
    this.pending.set(source, pending + 1);
    this.pendingTotal++;
    return undefined;
  }

  /** An admitted socket from `source` authenticated or closed: it no longer counts. */
  release(source: string): void {
    if (decrement(this.pending, source)) this.pendingTotal--;
  }

  /** Tokenless guest sessions open (architus dialect). */
  get anonymous(): number {
    return this.anonTotal;
  }

  /**
   * A socket admitted by `admit` becomes a tokenless guest: it leaves the unauthenticated budget
   * (the caller has released it) and takes one of its own, per source and balancer-wide. Undefined
   * admits it until `releaseAnonymous(source)`.
   */
  admitAnonymous(source: string): Refusal | undefined {
    const l = this.limits;
    const open = this.anon.get(source) ?? 0;
    if (l.MAX_ANONYMOUS_GUESTS === 0 || this.anonTotal >= l.MAX_ANONYMOUS_GUESTS) return 'SERVER_FULL';
    if (open >= l.ANONYMOUS_GUESTS_PER_IP) return 'RATE_LIMITED';
    this.anon.set(source, open + 1);
    this.anonTotal++;
    return undefined;
  }

  releaseAnonymous(source: string): void {
    if (decrement(this.anon, source)) this.anonTotal--;
  }

  /** Forgets the rate buckets that are full again (same as absent). O(tracked sources). */
  sweep(now: number): void {
    const { CONNECT_RATE_PER_IP, CONNECT_BURST_PER_IP } = this.limits;
    for (const [source, bucket] of this.rates) {
      if (isFull(bucket, now, CONNECT_RATE_PER_IP, CONNECT_BURST_PER_IP)) this.rates.delete(source);
    }
  }
}

/** One less for `key` (its entry goes at zero); false when it had none. */
function decrement(counts: Map<string, number>, key: string): boolean {
  const n = counts.get(key);
  if (n === undefined) return false;
  if (n <= 1) counts.delete(key);
  else counts.set(key, n - 1);
  return true;
}
