import { createHmac, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mintToken } from '@gateway/server-kit';

// Every token a JWT library would mint comes from the project's one minting function (server-kit's
// mintToken). The rest are built byte by byte here, because no library mints them: no `exp` or
// no `iat`, HS384/HS512, `alg: none`, respelled signatures, RS256 with a throwaway key.
type JWTPayload = Record<string, unknown>;

function enc(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** By hand: mintToken signs HS256 with both `iat` and `exp`, and only that. */
function hmacJwt(claims: JWTPayload, alg: 'HS256' | 'HS384' | 'HS512', secret: string): string {
  const input = `${enc({ alg, typ: 'JWT' })}.${enc(claims)}`;
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg];
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
}

/** The HS256 secret the e2e stack's processes share and the token helpers sign with by default. */
export const JWT_SECRET = 'e2e-jwt-secret-0123456789abcdef';

export interface TokenOptions {
  sub?: string;
  name?: string;
  guilds?: Record<string, number>;
  admin?: boolean;
  rooms?: string[];
  guest?: boolean;
  jti?: string;
  /** Seconds since the epoch; default one hour from now. `null` leaves `exp` out (refused). */
  exp?: number | null;
  /** Seconds since the epoch; default now. `null` leaves `iat` out. */
  iat?: number | null;
  nbf?: number;
  iss?: string;
  aud?: string;
  /** HS256 (default), HS384 or HS512 with `secret`. */
  alg?: 'HS256' | 'HS384' | 'HS512';
  secret?: string;
}

/** Seconds since the epoch, `offset` seconds from now. */
export function nowS(offset = 0): number {
  return Math.floor(Date.now() / 1000) + offset;
}

function claimsOf(o: TokenOptions): JWTPayload {
  const claims: JWTPayload = {};
  for (const key of ['sub', 'name', 'guilds', 'admin', 'rooms', 'guest', 'jti', 'nbf', 'iss', 'aud'] as const) {
    if (o[key] !== undefined) claims[key] = o[key];
  }
  const now = nowS();
  if (o.iat !== null) claims.iat = o.iat ?? now;
  if (o.exp !== null) claims.exp = o.exp ?? now + 3600;
  return claims;
}

/** A signed user token (HS256 with the stack's JWT_SECRET unless told otherwise). */
export async function userToken(o: TokenOptions = {}): Promise<string> {
  const claims = claimsOf({ sub: uniqSub(), ...o });
  const { iat, exp, ...rest } = claims;
  const alg = o.alg ?? 'HS256';
  const secret = o.secret ?? JWT_SECRET;
  if (alg !== 'HS256' || typeof iat !== 'number' || typeof exp !== 'number') return hmacJwt(claims, alg, secret);
  // mintToken reads `iat` from its clock and adds the lifetime: both land where they were asked.
  return mintToken(rest, { secret, ttlSeconds: exp - iat, now: () => iat * 1000 });
}

/** A guest token: `guest: true` and a `jti`, no `sub`; its room is `guest:<jti>`. */
export function guestToken(o: TokenOptions = {}): Promise<string> {
  return userToken({ ...o, guest: true, jti: o.jti ?? `g${randomBytes(4).toString('hex')}`, sub: undefined });
}

/** Admin token for the monolith's publishing endpoints. */
export function adminToken(o: TokenOptions = {}): Promise<string> {
  return userToken({ sub: 'backend', admin: true, ...o });
}

/** Signed with another secret: the signature does not verify. */
export function badSignatureToken(o: TokenOptions = {}): Promise<string> {
  return userToken({ ...o, secret: 'not-the-gateway-secret-0123456789' });
}

/** Expired a minute ago. */
export function expiredToken(o: TokenOptions = {}): Promise<string> {
  return userToken({ ...o, exp: nowS(-60) });
}

/**
 * The same token with its signature spelled otherwise: `=` padding, a character outside the
 * base64url alphabet, or a nonzero unused bit in the last character (an HS256 signature has 2).
 * Lenient decoders read the same bytes; the gateway refuses all three (4102 / 401). By hand: no
 * library writes these.
 */
export function respellSignature(token: string, how: 'padding' | 'alphabet' | 'bits'): string {
  const dot = token.lastIndexOf('.');
  const head = token.slice(0, dot + 1);
  const sig = token.slice(dot + 1);
  if (how === 'padding') return `${head}${sig}=`;
  if (how === 'alphabet') return `${head}${sig.replace(/-/g, '+').replace(/_/g, '/')}${/[-_]/.test(sig) ? '' : '+'}`;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  return `${head}${sig.slice(0, -1)}${alphabet[alphabet.indexOf(sig.at(-1)!) ^ 1]}`;
}

/** An unsigned token (`alg: none`), which must never be accepted; by hand, as no library mints one. */
export function noneToken(o: TokenOptions = {}): string {
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc(claimsOf({ sub: uniqSub(), ...o }))}.`;
}

/** RS256 with a fresh key pair, for algorithm confusion against an HS256 gateway; by hand, as mintToken is HS256 only. */
export async function rs256Token(o: TokenOptions = {}): Promise<string> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const input = `${enc({ alg: 'RS256', typ: 'JWT' })}.${enc(claimsOf({ sub: uniqSub(), ...o }))}`;
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

export function uniqSub(prefix = 'u'): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}
