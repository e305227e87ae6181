import { describe, expect, it } from 'vitest';
import { Admission, MAX_TRACKED_SOURCES, type AdmissionLimits } from './admission.js';

const limits: AdmissionLimits = {
  MAX_CONNECTIONS: 1000,
  CONNECT_RATE: 1000,
  CONNECT_BURST: 1000,
  CONNECT_RATE_PER_IP: 10,
  CONNECT_BURST_PER_IP: 5,
  MAX_UNAUTHENTICATED: 20,
  MAX_UNAUTHENTICATED_PER_IP: 3,
  MAX_ANONYMOUS_GUESTS: 4,
  ANONYMOUS_GUESTS_PER_IP: 2,
};

/** Admits from `source` `count` times at `now`, releasing each at once (a socket that authenticates). */
function authenticatedBurst(a: Admission, source: string, count: number, now: number): Array<string | undefined> {
  return Array.from({ length: count }, () => {
    const r = a.admit(source, 0, now);
    if (r === undefined) a.release(source);
    return r;
  });
}

describe('Admission', () => {
  it('caps unauthenticated sockets per source with RATE_LIMITED, and frees a place on release', () => {
    const a = new Admission(limits, 0);
    expect([1, 2, 3].map(() => a.admit('10.0.0.1', 0, 0))).toEqual([undefined, undefined, undefined]);
    expect(a.admit('10.0.0.1', 0, 0)).toBe('RATE_LIMITED');
    // Another source is not affected.
    expect(a.admit('10.0.0.2', 0, 0)).toBeUndefined();
    a.release('10.0.0.1');
    expect(a.admit('10.0.0.1', 0, 0)).toBeUndefined();
    expect(a.unauthenticated).toBe(4);
  });

  it('caps unauthenticated sockets balancer-wide with SERVER_FULL while authenticated ones keep coming', () => {
    const a = new Admission({ ...limits, CONNECT_BURST_PER_IP: 100, CONNECT_RATE_PER_IP: 100 }, 0);
    // Many sources, each under its own cap, together fill MAX_UNAUTHENTICATED.
    for (let i = 0; i < 20; i++) expect(a.admit(`10.0.1.${i}`, 0, 0)).toBeUndefined();
    expect(a.admit('10.0.2.1', 0, 0)).toBe('SERVER_FULL');
    // A socket that authenticates gives its place back: the budget never fills MAX_CONNECTIONS.
    a.release('10.0.1.0');
    expect(a.admit('10.0.2.1', 20, 0)).toBeUndefined();
    expect(a.unauthenticated).toBe(20);
  });

  it('refuses past MAX_CONNECTIONS with SERVER_FULL', () => {
    const a = new Admission(limits, 0);
    expect(a.admit('10.0.0.1', 999, 0)).toBeUndefined();
    expect(a.admit('10.0.0.1', 1000, 0)).toBe('SERVER_FULL');
  });

  it('rate-limits each source by its own bucket and refills it with time', () => {
    const a = new Admission(limits, 0);
    expect(authenticatedBurst(a, '10.0.0.1', 6, 0)).toEqual([undefined, undefined, undefined, undefined, undefined, 'RATE_LIMITED']);
    expect(authenticatedBurst(a, '10.0.0.2', 5, 0).every((r) => r === undefined)).toBe(true);
    // 10 per second: one more token after 100 ms, the whole burst after 500 ms.
    expect(authenticatedBurst(a, '10.0.0.1', 2, 100)).toEqual([undefined, 'RATE_LIMITED']);
    expect(authenticatedBurst(a, '10.0.0.1', 6, 700)).toEqual([undefined, undefined, undefined, undefined, undefined, 'RATE_LIMITED']);
  });

  it('keeps a flooding source from spending the balancer-wide CONNECT_RATE', () => {
    const a = new Admission({ ...limits, CONNECT_RATE: 1, CONNECT_BURST: 10, CONNECT_BURST_PER_IP: 2 }, 0);
    authenticatedBurst(a, '10.0.0.1', 500, 0);
    // The flood took 2 balancer tokens (its own burst); 8 are left for everyone else.
    expect(authenticatedBurst(a, '10.0.0.2', 2, 0)).toEqual([undefined, undefined]);
    expect(authenticatedBurst(a, '10.0.0.3', 2, 0)).toEqual([undefined, undefined]);
  });

  it('spends no token on a socket refused for its unauthenticated count', () => {
    const a = new Admission({ ...limits, MAX_UNAUTHENTICATED_PER_IP: 1 }, 0);
    expect(a.admit('10.0.0.1', 0, 0)).toBeUndefined();
    for (let i = 0; i < 50; i++) expect(a.admit('10.0.0.1', 0, 0)).toBe('RATE_LIMITED');
    a.release('10.0.0.1');
    // 4 of the 5-token burst are left.
    expect(authenticatedBurst(a, '10.0.0.1', 5, 0)).toEqual([undefined, undefined, undefined, undefined, 'RATE_LIMITED']);
  });

  it('sweeps buckets that have refilled, so the map stays bounded', () => {
    const a = new Admission(limits, 0);
    for (let i = 0; i < 100; i++) authenticatedBurst(a, `10.1.0.${i}`, 1, 0);
    authenticatedBurst(a, '10.2.0.1', 1, 400);
    expect(a.trackedSources).toBe(101);
    a.sweep(50);
    expect(a.trackedSources).toBe(101);
    // One token at 10/s refills in 100 ms: at 450 ms the first hundred are full, the last is not.
    a.sweep(450);
    expect(a.trackedSources).toBe(1);
    a.sweep(10_000);
    expect(a.trackedSources).toBe(0);
  });

  it('falls back to the balancer-wide rate for new sources once MAX_TRACKED_SOURCES are tracked', () => {
    const a = new Admission({ ...limits, CONNECT_RATE: 1e9, CONNECT_BURST: 1e9 }, 0);
    for (let i = 0; i < MAX_TRACKED_SOURCES; i++) authenticatedBurst(a, `s${i}`, 1, 0);
    expect(a.trackedSources).toBe(MAX_TRACKED_SOURCES);
    expect(authenticatedBurst(a, 'one-more', 10, 0).every((r) => r === undefined)).toBe(true);
    expect(a.trackedSources).toBe(MAX_TRACKED_SOURCES);
  });

  it('ignores a release for a source it does not count', () => {
    const a = new Admission(limits, 0);
    a.release('10.0.0.9');
    expect(a.unauthenticated).toBe(0);
  });

  it('gives tokenless guests their own budgets, per source (RATE_LIMITED) and balancer-wide (SERVER_FULL)', () => {
    const a = new Admission(limits, 0);
    expect([a.admitAnonymous('10.0.0.1'), a.admitAnonymous('10.0.0.1')]).toEqual([undefined, undefined]);
    expect(a.admitAnonymous('10.0.0.1')).toBe('RATE_LIMITED');
    // Tokenless guests do not take unauthenticated places.
    expect(a.unauthenticated).toBe(0);
    expect(a.admit('10.0.0.1', 0, 0)).toBeUndefined();
    expect([a.admitAnonymous('10.0.0.2'), a.admitAnonymous('10.0.0.3')]).toEqual([undefined, undefined]);
    expect(a.anonymous).toBe(4);
    expect(a.admitAnonymous('10.0.0.4')).toBe('SERVER_FULL');
    a.releaseAnonymous('10.0.0.1');
    expect(a.admitAnonymous('10.0.0.4')).toBeUndefined();
    a.releaseAnonymous('10.0.0.9');
    expect(a.anonymous).toBe(4);
  });

  it('refuses every tokenless guest when MAX_ANONYMOUS_GUESTS is 0', () => {
    const a = new Admission({ ...limits, MAX_ANONYMOUS_GUESTS: 0 }, 0);
    expect(a.admitAnonymous('10.0.0.1')).toBe('SERVER_FULL');
    expect(a.anonymous).toBe(0);
  });
});
