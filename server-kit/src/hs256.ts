import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { JWTPayload } from 'jose';

/**
 * HS256 verification on node:crypto, for the hot path of connect + auth: jose 6 verifies through
 * WebCrypto (`crypto.subtle`), about 55-106 µs per token here against 2 µs for the HMAC itself,
 * and every session is verified twice (balancer, then monolith). Same rules as jose's
 * `jwtVerify(token, key, {algorithms: ['HS256'], issuer, audience, clockTolerance,
 * requiredClaims: ['exp']})`, the failures named the way jwt.ts maps jose's errors;
 * hs256.test.ts checks both agree on a matrix of tokens. Asymmetric keys and JWKS stay on jose.
 */

export type Hs256Outcome =
  | { ok: true; payload: JWTPayload }
  | { ok: false; reason: 'invalid' | 'expired' | 'not_yet_valid' | 'claims' | 'algorithm'; detail: string };

export interface Hs256Options {
  issuer?: string | undefined;
  audience?: string | undefined;
  clockToleranceS: number;
}

function decodeObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const invalid = (detail: string): Hs256Outcome => ({ ok: false, reason: 'invalid', detail });
const claim = (name: string): Hs256Outcome => ({ ok: false, reason: 'claims', detail: `claim ${name} rejected` });

/** Verifies a compact HS256 JWS and its registered claims; `now` in seconds. */
export function verifyHs256(token: string, key: KeyObject, opts: Hs256Options, now = Math.floor(Date.now() / 1000)): Hs256Outcome {
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first <= 0 || second < 0 || token.indexOf('.', second + 1) >= 0) return invalid('malformed token');
  const header = decodeObject(token.slice(0, first));
  if (!header || header.alg !== 'HS256') return invalid('malformed token header');
  // jose refuses critical extensions it does not know (it knows none for HS256 tokens) and the
  // unencoded-payload option; so do we.
  if (header.crit !== undefined || header.b64 !== undefined) return invalid('unsupported header parameter');
  const signature = Buffer.from(token.slice(second + 1), 'base64url');
  const expected = createHmac('sha256', key).update(token.slice(0, second)).digest();
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) return invalid('signature verification failed');
  const payload = decodeObject(token.slice(first + 1, second));
  if (!payload) return invalid('JWT Claims Set must be a top-level JSON object');
  // In jose's order: the required claim, iss, aud, then iat, nbf and exp.
  const tolerance = opts.clockToleranceS;
  if (payload.exp === undefined) return claim('exp');
  if (opts.issuer !== undefined && payload.iss !== opts.issuer) return claim('iss');
  if (opts.audience !== undefined) {
    const aud = payload.aud;
    const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
    if (!audiences.includes(opts.audience)) return claim('aud');
  }
  if (payload.iat !== undefined && typeof payload.iat !== 'number') return claim('iat');
  if (payload.nbf !== undefined) {
    // jwt.ts names every failed `nbf` check not_yet_valid, a mistyped one included.
    if (typeof payload.nbf !== 'number' || payload.nbf > now + tolerance) return { ok: false, reason: 'not_yet_valid', detail: 'token not yet valid' };
  }
  if (typeof payload.exp !== 'number') return claim('exp');
  if (payload.exp <= now - tolerance) return { ok: false, reason: 'expired', detail: 'token expired' };
  return { ok: true, payload: payload as JWTPayload };
}
