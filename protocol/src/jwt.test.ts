import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createVerifier } from './jwt.js';

const secret = 'unit-test-secret-0123456789abcdef';
const key = new TextEncoder().encode(secret);
const now = () => Math.floor(Date.now() / 1000);

function hs(claims: Record<string, unknown>, opts: { exp?: number; nbf?: number; iss?: string; aud?: string; sub?: string } = {}) {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (opts.sub !== undefined) jwt.setSubject(opts.sub);
  jwt.setExpirationTime(opts.exp ?? now() + 60);
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
