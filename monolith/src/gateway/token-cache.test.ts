import { describe, expect, it } from 'vitest';
import type { VerifyResult } from '@gateway/server-kit';
import { TokenCache, tokenKey } from './token-cache.js';

const ok = (expMs: number): VerifyResult => ({ ok: true, claims: { sub: 'u' }, subject: 'u', guest: false, expMs });

describe('TokenCache', () => {
  it('verifies a token once while it is valid, again once its exp has passed', async () => {
    let calls = 0;
    let now = 1000;
    const cache = new TokenCache(async () => (calls++, now >= 5000 ? { ok: false, reason: 'expired', detail: 'x' } : ok(5000)), 10, () => now);
    expect((await cache.check('t')).ok).toBe(true);
    expect((await cache.check('t')).ok).toBe(true);
    expect(calls).toBe(1);
    now = 5000;
    expect(await cache.check('t')).toMatchObject({ ok: false, reason: 'expired' });
    expect(calls).toBe(2);
  });

  it('stays within its bound, dropping the oldest token first', async () => {
    const seen: string[] = [];
    const cache = new TokenCache(async (t) => (seen.push(t), ok(Infinity)), 2);
    for (const t of ['a', 'b', 'c', 'b']) await cache.check(t);
    expect(cache.size).toBe(2);
    await cache.check('a');
    expect(seen).toEqual(['a', 'b', 'c', 'a']);
  });

  it('turns a verifier that throws into a refusal, and keeps no refusal', async () => {
    let up = false;
    const cache = new TokenCache(async () => {
      if (!up) throw new Error('jwks down');
      return ok(Infinity);
    }, 2);
    expect(await cache.check('t')).toMatchObject({ ok: false, reason: 'invalid' });
    expect(cache.size).toBe(0);
    up = true;
    expect((await cache.check('t')).ok).toBe(true);
  });

  it('keys tokens by a 16-character digest, one per distinct token, so it never keeps a token', async () => {
    const a = 'eyJhbGciOiJIUzI1NiJ9.' + 'x'.repeat(300) + '.sigA';
    const b = a.slice(0, -1) + 'B'; // differs in the last character only
    expect(tokenKey(a)).toHaveLength(16);
    expect(tokenKey(a)).toBe(tokenKey(a));
    expect(tokenKey(a)).not.toBe(tokenKey(b));
    const verified: string[] = [];
    const cache = new TokenCache(async (t) => (verified.push(t), ok(Infinity)), 10);
    for (const t of [a, b, a, b]) await cache.check(t);
    // Each token is verified itself, once: a hit is only ever its own token's result.
    expect(verified).toEqual([a, b]);
    expect(cache.size).toBe(2);
  });
});
