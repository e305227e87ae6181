import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { SignJWT, createRemoteJWKSet, jwtVerify, errors, type JWTPayload } from 'jose';
import { JWT_DEFAULTS, publicKeyAlgorithms, type JwtConfig } from './jwt-config.js';
import { verifyHs256, type Hs256Outcome } from './hs256.js';
import { subjectOf, validateTokenClaims, type TokenClaims } from '@gateway/protocol';

/** Why a token was refused; each maps to its own close code on the balancer. */
export type TokenFailure = 'invalid' | 'expired' | 'not_yet_valid' | 'algorithm' | 'claims';

export type VerifyResult =
  | { ok: true; claims: TokenClaims & JWTPayload; subject: string; guest: boolean; expMs: number }
  | { ok: false; reason: TokenFailure; detail: string };

export interface VerifierOptions {
  /** HS256 shared secret. */
  secret?: string | undefined;
  /** PEM public key (RSA, EC or Ed25519); the algorithm follows the key type. */
  publicKey?: string | undefined;
  /** JWKS endpoint for RS256/ES256/EdDSA keys, fetched and cached by jose. */
  jwksUrl?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** Clock skew allowed on `exp`, `nbf` and `iat`. */
  clockToleranceS?: number;
  /** Longest lifetime accepted: `exp - iat`, or `exp - now` without `iat`. */
  maxLifetimeS?: number;
}

function headerAlg(token: string): string | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8')) as { alg?: unknown };
    return typeof header.alg === 'string' ? header.alg : undefined;
  } catch {
    return undefined;
  }
}

const B64URL = /^[A-Za-z0-9_-]*$/;

/**
 * True when the signature segment is canonical base64url: no `=` padding, nothing outside the
 * alphabet, and zero unused bits in the last character, i.e. re-encoding the decoded bytes gives
 * the same text. Decoders are lenient, so without this one signature has several spellings and a
 * token several strings (a cache or a replay check keyed by the token text could be sidestepped).
 */
export function canonicalSignature(token: string): boolean {
  const dot = token.lastIndexOf('.');
  const sig = token.slice(dot + 1);
  if (dot < 0 || sig.length === 0 || !B64URL.test(sig)) return false;
  return Buffer.from(sig, 'base64url').toString('base64url') === sig;
}

/**
 * Builds the token check used by balancers and monoliths. Rejects `alg: none` and any algorithm
 * other than the configured key's (no HS/RS confusion), a signature that is not canonical
 * base64url (`invalid`), tokens without `exp` or living longer than `maxLifetimeS` (`claims`;
 * like the time checks, within `clockToleranceS`),
 * expired ones, ones whose `nbf` or `iat` is in the future (`not_yet_valid`), wrong `iss`/`aud`
 * when configured, and tokens with neither `sub` nor a guest `jti`.
 */
export function createVerifier(opts: VerifierOptions): (token: string) => Promise<VerifyResult> {
  let key: Parameters<typeof jwtVerify>[1] | ReturnType<typeof createRemoteJWKSet>;
  let algorithms: string[];
  /** HS256 verifies on node:crypto (hs256.ts), not through jose's WebCrypto path. */
  let hmacKey: KeyObject | undefined;
  if (opts.publicKey) {
    const pk = createPublicKey(opts.publicKey);
    key = pk;
    algorithms = publicKeyAlgorithms(pk);
  } else if (opts.jwksUrl) {
    key = createRemoteJWKSet(new URL(opts.jwksUrl));
    algorithms = ['RS256', 'ES256', 'EdDSA'];
  } else if (opts.secret) {
    key = new TextEncoder().encode(opts.secret);
    hmacKey = createSecretKey(Buffer.from(opts.secret, 'utf8'));
    algorithms = ['HS256'];
  } else {
    throw new Error('a JWT secret, public key or JWKS URL is required');
  }
  const allowed = new Set(algorithms);
  const tolerance = opts.clockToleranceS ?? JWT_DEFAULTS.clockToleranceS;
  const maxLifetime = opts.maxLifetimeS ?? JWT_DEFAULTS.maxLifetimeS;
  const verifyOptions = {
    algorithms,
    issuer: opts.issuer,
    audience: opts.audience,
    clockTolerance: tolerance,
    // A token without `exp` would never expire.
    requiredClaims: ['exp'],
  };

  return async (token: string): Promise<VerifyResult> => {
    const alg = headerAlg(token);
    if (alg === undefined) return { ok: false, reason: 'invalid', detail: 'malformed token header' };
    if (!allowed.has(alg)) return { ok: false, reason: 'algorithm', detail: `algorithm ${alg} not allowed` };
    if (!canonicalSignature(token)) return { ok: false, reason: 'invalid', detail: 'signature is not canonical base64url' };
    const outcome = hmacKey
      ? verifyHs256(token, hmacKey, { issuer: opts.issuer, audience: opts.audience, clockToleranceS: tolerance })
      : await joseVerify(token, key, verifyOptions);
    if (!outcome.ok) return outcome;
    const payload = outcome.payload;
    // jose checks that `exp` (required) and `iat` are numbers; it checks `iat` against the clock
    // only with maxTokenAge, which measures age from `iat`, not the lifetime the issuer chose.
    const exp = payload.exp as number;
    const now = Date.now() / 1000;
    if (payload.iat !== undefined && payload.iat > now + tolerance) return { ok: false, reason: 'not_yet_valid', detail: 'iat is in the future' };
    // With tolerance too: issuers (jose's setIssuedAt().setExpirationTime('24h')) read the clock
    // twice, so a 24 h token can say 86,401 s.
    if (exp - (payload.iat ?? now) > maxLifetime + tolerance) return { ok: false, reason: 'claims', detail: `lifetime above ${maxLifetime} s` };
    if (!validateTokenClaims.check(payload)) {
      return { ok: false, reason: 'claims', detail: validateTokenClaims.explain(payload) };
    }
    const claims = payload as TokenClaims & JWTPayload;
    const { subject, guest } = subjectOf(claims);
    if (!subject) return { ok: false, reason: 'claims', detail: guest ? 'guest token without jti' : 'token without sub' };
    return { ok: true, claims, subject, guest, expMs: exp * 1000 };
  };
}

/** jose's verification (public keys, JWKS), its errors named as TokenFailure reasons. */
async function joseVerify(
  token: string,
  key: Parameters<typeof jwtVerify>[1] | ReturnType<typeof createRemoteJWKSet>,
  options: Parameters<typeof jwtVerify>[2],
): Promise<Hs256Outcome> {
  try {
    // jose takes either a key or a key-resolving function; both shapes are handled at run time.
    return { ok: true, payload: (await jwtVerify(token, key as Parameters<typeof jwtVerify>[1], options)).payload };
  } catch (err) {
    if (err instanceof errors.JWTExpired) return { ok: false, reason: 'expired', detail: 'token expired' };
    if (err instanceof errors.JWTClaimValidationFailed) {
      if (err.claim === 'nbf') return { ok: false, reason: 'not_yet_valid', detail: 'token not yet valid' };
      return { ok: false, reason: 'claims', detail: `claim ${err.claim} rejected` };
    }
    if (err instanceof errors.JOSEAlgNotAllowed) return { ok: false, reason: 'algorithm', detail: 'algorithm not allowed' };
    return { ok: false, reason: 'invalid', detail: (err as Error).message };
  }
}

/** The verifier for a service's `jwtSpec` variables. */
export function verifierFromConfig(config: JwtConfig): (token: string) => Promise<VerifyResult> {
  return createVerifier({
    secret: config.JWT_SECRET,
    publicKey: config.JWT_PUBLIC_KEY,
    jwksUrl: config.JWKS_URL,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    maxLifetimeS: config.JWT_MAX_LIFETIME_S,
    clockToleranceS: config.JWT_CLOCK_TOLERANCE_S,
  });
}

export interface MintOptions {
  /** The HS256 secret (at least 32 bytes in production; `JWT_SECRET`). */
  secret: string;
  /** Lifetime: `iat` is now and `exp` now + this, read from one clock reading. */
  ttlSeconds: number;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** Milliseconds since the epoch; `Date.now` by default. */
  now?: () => number;
}

/**
 * The one way this project mints a token (STYLE 13): HS256, `typ: JWT`, the caller's claims
 * (`sub` among them when there is one) with `iat` and `exp` from a single clock reading, so the
 * lifetime is exactly `ttlSeconds` (the verifier checks it against JWT_MAX_LIFETIME_S).
 * Used by the monolith's token endpoints, the dev token script and the benchmarks; tests that
 * need a token the verifier must refuse build it by hand (testing/tokens.ts).
 */
export function mintToken(claims: Record<string, unknown>, opts: MintOptions): Promise<string> {
  const iat = Math.floor((opts.now ?? Date.now)() / 1000);
  const jwt = new SignJWT({ ...claims, iat, exp: iat + opts.ttlSeconds }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' });
  if (opts.issuer) jwt.setIssuer(opts.issuer);
  if (opts.audience) jwt.setAudience(opts.audience);
  return jwt.sign(new TextEncoder().encode(opts.secret));
}

/** Mints HS256 tokens (the monolith's token endpoints; needs JWT_SECRET). */
export function createSigner(secret: string, opts: { issuer?: string | undefined; audience?: string | undefined } = {}) {
  return (claims: Record<string, unknown>, ttlSeconds: number): Promise<string> => mintToken(claims, { secret, ttlSeconds, ...opts });
}
