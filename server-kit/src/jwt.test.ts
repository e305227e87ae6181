import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, UnsecuredJWT, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { readConfig } from './config-schema.js';
import { jwtSpec } from './jwt-config.js';
import { canonicalSignature, createVerifier, mintToken, verifierFromConfig } from './jwt.js';

const secret = 'unit-test-secret-0123456789abcdef';
const key = new TextEncoder().encode(secret);
const now = () => Math.floor(Date.now() / 1000);

/** An HS256 token; `exp: null` leaves `exp` out, `iat: null` leaves `iat` out. */
function hs(claims: Record<string, unknown>, opts: { exp?: number | null; iat?: number | null; nbf?: number; iss?: string; aud?: string; sub?: string } = {}) {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' });
  if (opts.iat !== null) jwt.setIssuedAt(opts.iat ?? now());
  if (opts.sub !== undefined) jwt.setSubject(opts.sub);
  if (opts.exp !== null) jwt.setExpirationTime(opts.exp ?? now() + 60);
  if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
  if (opts.iss) jwt.setIssuer(opts.iss);
  if (opts.aud) jwt.setAudience(opts.aud);
  return jwt.sign(key);
}

describe('createVerifier (HS256)', () => {
  const verify = createVerifier({ secret });

  it('accepts a valid user token and reads its subject and expiry', async () => {
    const exp = now() + 60;
    const r = await verify(await hs({ name: 'Ann', guilds: { '1': 7 } }, { sub: '42', exp }));
    expect(r).toMatchObject({ ok: true, subject: '42', guest: false, expMs: exp * 1000 });
  });

  it('accepts a guest token by its jti', async () => {
    const token = await new SignJWT({ guest: true }).setProtectedHeader({ alg: 'HS256' }).setJti('g1').setExpirationTime('1m').sign(key);
    expect(await verify(token)).toMatchObject({ ok: true, subject: 'g1', guest: true });
  });

  it.each([
    ['expired', async () => hs({}, { sub: '1', exp: now() - 10 })],
    ['not_yet_valid', async () => hs({}, { sub: '1', nbf: now() + 600 })],
    ['algorithm', async () => new UnsecuredJWT({ sub: '1' }).setExpirationTime('1m').encode()],
    ['invalid', async () => new SignJWT({ sub: '1' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1m').sign(new TextEncoder().encode('another-secret-0123456789abcdef'))],
    ['invalid', async () => 'not.a.jwt'],
    ['claims', async () => hs({}, {})],
    ['claims', async () => hs({ guilds: { abc: 1 } }, { sub: '1' })],
  ])('refuses with reason %s', async (reason, make) => {
    const r = await verify(await make());
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe(reason);
  });

  it('checks iss and aud when configured', async () => {
    const strict = createVerifier({ secret, issuer: 'gw', audience: 'web' });
    expect((await strict(await hs({}, { sub: '1', iss: 'gw', aud: 'web' }))).ok).toBe(true);
    expect(await strict(await hs({}, { sub: '1', iss: 'other', aud: 'web' }))).toMatchObject({ ok: false, reason: 'claims' });
    expect(await strict(await hs({}, { sub: '1', iss: 'gw', aud: 'other' }))).toMatchObject({ ok: false, reason: 'claims' });
  });
});

describe('createVerifier (public keys)', () => {
  it('verifies EdDSA with a PEM key and refuses HS256 signed with the public key text (confusion)', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const verify = createVerifier({ publicKey: pem });
    const good = await new SignJWT({}).setProtectedHeader({ alg: 'EdDSA' }).setSubject('7').setExpirationTime('1m').sign(privateKey);
    expect(await verify(good)).toMatchObject({ ok: true, subject: '7' });
    const confused = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('7').setExpirationTime('1m').sign(new TextEncoder().encode(pem));
    expect(await verify(confused)).toMatchObject({ ok: false, reason: 'algorithm' });
  });

  it('refuses an RS256 token at an HS256 verifier', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject('7').setExpirationTime('1m').sign(privateKey);
    expect(await createVerifier({ secret })(token)).toMatchObject({ ok: false, reason: 'algorithm' });
  });
});

/** Re-spells a token's signature: `=` padding, a character outside the alphabet, or a nonzero unused bit. */
function respell(token: string, how: 'padding' | 'alphabet' | 'bits'): string {
  const dot = token.lastIndexOf('.');
  const sig = token.slice(dot + 1);
  const head = token.slice(0, dot + 1);
  if (how === 'padding') return `${head}${sig}=`;
  if (how === 'alphabet') return `${head}${sig.replace(/-/g, '+').replace(/_/g, '/')}${/[-_]/.test(sig) ? '' : '+'}`;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  // A 32-byte HMAC is 43 characters: the last one carries 2 unused bits; set the lowest.
  return `${head}${sig.slice(0, -1)}${alphabet[alphabet.indexOf(sig.at(-1)!) ^ 1]}`;
}

describe('createVerifier hygiene rules', () => {
  const verify = createVerifier({ secret, maxLifetimeS: 3600, clockToleranceS: 5 });

  it('refuses a token without exp (it would never expire) with reason claims', async () => {
    expect(await verify(await hs({}, { sub: '1', exp: null }))).toMatchObject({ ok: false, reason: 'claims', detail: 'claim exp rejected' });
    expect(await verify(await hs({}, { sub: '1', exp: null, iat: null }))).toMatchObject({ ok: false, reason: 'claims' });
  });

  it('refuses a lifetime (exp - iat) above maxLifetimeS (and the tolerance) with reason claims', async () => {
    const iat = now() - 10;
    expect(await verify(await hs({}, { sub: '1', iat, exp: iat + 3606 }))).toMatchObject({ ok: false, reason: 'claims', detail: 'lifetime above 3600 s' });
    expect(await verify(await hs({}, { sub: '1', iat, exp: iat + 3600 }))).toMatchObject({ ok: true });
    // An issuer that read the clock twice (setIssuedAt, then setExpirationTime('1h')) may say 3601.
    expect(await verify(await hs({}, { sub: '1', iat, exp: iat + 3601 }))).toMatchObject({ ok: true });
  });

  it('measures the lifetime from now when the token has no iat', async () => {
    expect(await verify(await hs({}, { sub: '1', iat: null, exp: now() + 3700 }))).toMatchObject({ ok: false, reason: 'claims' });
    expect(await verify(await hs({}, { sub: '1', iat: null, exp: now() + 3500 }))).toMatchObject({ ok: true });
  });

  it('refuses an iat in the future beyond the clock tolerance with reason not_yet_valid', async () => {
    expect(await verify(await hs({}, { sub: '1', iat: now() + 60, exp: now() + 120 }))).toMatchObject({ ok: false, reason: 'not_yet_valid', detail: 'iat is in the future' });
    expect(await verify(await hs({}, { sub: '1', iat: now() + 2, exp: now() + 120 }))).toMatchObject({ ok: true });
  });

  it.each(['padding', 'alphabet', 'bits'] as const)('refuses a signature re-spelled with %s (not canonical base64url) with reason invalid', async (how) => {
    const good = await hs({}, { sub: '1' });
    const bad = respell(good, how);
    expect(bad).not.toBe(good);
    expect(canonicalSignature(good)).toBe(true);
    expect(canonicalSignature(bad)).toBe(false);
    expect(await verify(bad)).toMatchObject({ ok: false, reason: 'invalid', detail: 'signature is not canonical base64url' });
  });

  it('closes a hole the JOSE library leaves open: it accepts the nonzero unused bits', async () => {
    // Why the rule exists: the same signature spelled twice is two different token strings.
    await expect(jwtVerify(respell(await hs({}, { sub: '1' }), 'bits'), key)).resolves.toBeTruthy();
  });

  it('reads the maximum lifetime and the tolerance from jwtSpec (JWT_MAX_LIFETIME_S, JWT_CLOCK_TOLERANCE_S)', async () => {
    const config = readConfig(jwtSpec, { JWT_SECRET: secret, JWT_MAX_LIFETIME_S: '120', JWT_CLOCK_TOLERANCE_S: '0' });
    const fromConfig = verifierFromConfig(config);
    expect(await fromConfig(await hs({}, { sub: '1', exp: now() + 121 }))).toMatchObject({ ok: false, reason: 'claims' });
    expect(await fromConfig(await hs({}, { sub: '1', exp: now() + 60 }))).toMatchObject({ ok: true });
    expect(await fromConfig(await hs({}, { sub: '1', iat: now() + 2, exp: now() + 60 }))).toMatchObject({ ok: false, reason: 'not_yet_valid' });
    expect(readConfig(jwtSpec, { JWT_SECRET: secret })).toMatchObject({ JWT_MAX_LIFETIME_S: 86400, JWT_CLOCK_TOLERANCE_S: 5 });
  });
});

describe('mintToken', () => {
  it('mints an HS256 token with the claims, iat and exp exactly ttlSeconds apart, that the verifier accepts', async () => {
    const token = await mintToken({ sub: '42', name: 'Ann', admin: true }, { secret, ttlSeconds: 86_400, issuer: 'i', audience: 'a', now: () => Date.now() - 500 });
    const { payload, protectedHeader } = await jwtVerify(token, key, { algorithms: ['HS256'] });
    expect(protectedHeader).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(payload).toMatchObject({ sub: '42', name: 'Ann', admin: true, iss: 'i', aud: 'a' });
    expect(payload.exp! - payload.iat!).toBe(86_400);
    expect(await createVerifier({ secret, issuer: 'i', audience: 'a', maxLifetimeS: 86_400 })(token)).toMatchObject({ ok: true, subject: '42' });
  });
});
